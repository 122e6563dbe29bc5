// Starts AWS DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local has no bind-address option: its Jetty connector listens on every interface.
// This launcher builds the server exactly as DynamoDB Local's own ServerRunner does, then reaches
// the Jetty Server held in the private field DynamoDBProxyServer.server, sets the host of every
// ServerConnector to 127.0.0.1, and only then starts it. It refuses to start (exit status 2) if
// it meets a connector it cannot pin to the loopback address.
//
// Unlike ServerRunner.main it never configures telemetry, so DynamoDB Local never calls home.
//
// With -Dgat.exitOnStdinEof=true the JVM exits as soon as its standard input reaches end of file,
// which happens when the process that started it dies, however it dies: the test harness keeps
// the write end of that pipe open for as long as it wants the server to live.
//
// Compiled by tests/services/dynamodb_local.py against DynamoDBLocal.jar (3.x package names).

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
    static final String LOOPBACK = "127.0.0.1";

    private LoopbackDynamoDbLocal() {}

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        if (proxy == null) {
            System.err.println("LoopbackDynamoDbLocal: DynamoDB Local rejected its arguments");
            System.exit(2);
        }
        Server jetty = jettyServerOf(proxy);
        Connector[] connectors = jetty.getConnectors();
        if (connectors.length == 0) {
            fail("the Jetty server has no connectors");
        }
        for (Connector connector : connectors) {
            if (!(connector instanceof ServerConnector)) {
                fail("cannot pin connector of type " + connector.getClass().getName() + " to " + LOOPBACK);
            }
            ((ServerConnector) connector).setHost(LOOPBACK);
        }

        proxy.start();

        if (!jetty.isStarted()) {
            fail("the Jetty server did not start (see the messages above)");
        }
        for (Connector connector : connectors) {
            ServerConnector serverConnector = (ServerConnector) connector;
            if (!LOOPBACK.equals(serverConnector.getHost()) || serverConnector.getLocalPort() <= 0) {
                fail("connector is not listening on " + LOOPBACK + ": " + serverConnector);
            }
            System.out.println(
                "LoopbackDynamoDbLocal: listening on http://" + LOOPBACK + ":" + serverConnector.getLocalPort());
        }
        System.out.flush();

        if (Boolean.getBoolean("gat.exitOnStdinEof")) {
            Thread watcher = new Thread(LoopbackDynamoDbLocal::exitOnStdinEof, "stdin-eof-watcher");
            watcher.setDaemon(true);
            watcher.start();
        }
        proxy.join();
    }

    private static Server jettyServerOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        return (Server) field.get(proxy);
    }

    private static void exitOnStdinEof() {
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // Anything written is ignored; only end of file matters.
            }
        } catch (IOException e) {
            // A broken pipe means the parent is gone as well.
        }
        System.out.println("LoopbackDynamoDbLocal: standard input closed, exiting");
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void fail(String message) {
        System.err.println("LoopbackDynamoDbLocal: " + message);
        System.err.flush();
        Runtime.getRuntime().halt(2);
    }
}
