"""Real services the integration tests run against, started and stopped by the suite itself."""
