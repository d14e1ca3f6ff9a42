// A Kestrel gRPC service for running behind tether: HTTP/2 cleartext (h2c, prior knowledge) only, on 127.0.0.1.
//
//   tether-grpc-server [port] [--ignore-grpc-timeout]
//
// Port 0 (the default) picks a free port. Once listening it prints `listening http://127.0.0.1:<port>`; after that
// stdout has one line per event of a call (WorkerService): `call <method> <id> started|cancelled|completed ...`.
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using TetherExample;

var port = args.FirstOrDefault(a => !a.StartsWith("--")) is { } p ? int.Parse(p) : 0;
var ignoreGrpcTimeout = args.Contains("--ignore-grpc-timeout");

var builder = WebApplication.CreateBuilder();
// stdout is the call log; the framework's own info lines would only bury it.
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
    kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
builder.Services.AddGrpc();

var app = builder.Build();
if (ignoreGrpcTimeout)
{
    // gRPC cancels a call itself when its grpc-timeout runs out. Without the header the only thing that can cancel
    // it is the peer resetting the stream, which is what a test of the proxy in front wants to see. The value is
    // kept for the call log.
    app.Use((context, next) =>
    {
        if (context.Request.Headers.Remove("grpc-timeout", out var timeout))
        {
            context.Items[WorkerService.IgnoredGrpcTimeoutKey] = timeout.ToString();
        }
        return next(context);
    });
}
app.MapGrpcService<WorkerService>();

await app.StartAsync();
// After start, Urls holds the bound addresses, port 0 resolved.
Console.WriteLine($"listening {app.Urls.First()}");
await app.WaitForShutdownAsync();
