"""Generative AI Toolkit: tools for building and observing LLM agents."""
