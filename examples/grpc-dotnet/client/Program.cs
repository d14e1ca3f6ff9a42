// One gRPC call to the Worker service, ended one of three ways, and the StatusCode the client saw:
//
//   tether-grpc-client <address> Work|Stream <id> <seconds> [--deadline-ms N] [--cancel-after-first]
//                      [--cancel-on-sigterm]
//
//   --deadline-ms N       the call has a deadline N ms from now (sent as grpc-timeout; the client gives up then)
//   --cancel-after-first  Stream only: cancel the call once the server's first message (work started) arrived
//   --cancel-on-sigterm   cancel the call when the process gets SIGTERM (a test sends it once the server has
//                         printed `started`, so the cancel comes while the work is running)
//
// Prints `first <id> conn=<connection>` when a stream's first message arrives, and at the end
// `status <id> <StatusCode> conn=<connection or ->`. Exits 0 whatever the status: the status is the result.
using System.Runtime.InteropServices;
using Grpc.Core;
using Grpc.Net.Client;
using TetherExample;

if (args.Length < 4)
{
    Console.Error.WriteLine("usage: tether-grpc-client <address> Work|Stream <id> <seconds> [--deadline-ms N] " +
                            "[--cancel-after-first] [--cancel-on-sigterm]");
    return 2;
}
var (address, method, id, seconds) = (args[0], args[1], args[2], int.Parse(args[3]));
var deadlineIndex = Array.IndexOf(args, "--deadline-ms");
int? deadlineMs = deadlineIndex > 0 ? int.Parse(args[deadlineIndex + 1]) : null;

using var cancel = new CancellationTokenSource();
// SIGTERM, not SIGINT: a shell starts background jobs with SIGINT ignored, and the signal's default is replaced here
// anyway (the process keeps running to report the cancelled call's status).
using var onSigterm = args.Contains("--cancel-on-sigterm")
    ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
    {
        signal.Cancel = true;
        cancel.Cancel();
    })
    : null;

// An http:// address makes Grpc.Net.Client speak HTTP/2 with prior knowledge (h2c), as tether's h2c listener does.
using var channel = GrpcChannel.ForAddress(address);
var client = new Worker.WorkerClient(channel);
var request = new WorkRequest { Id = id, Seconds = seconds };
// Counted from here, after the process has started up, which takes a good part of a second.
DateTime? deadline = deadlineMs is { } ms ? DateTime.UtcNow.AddMilliseconds(ms) : null;
var options = new CallOptions(deadline: deadline, cancellationToken: cancel.Token);
var connection = "-";
try
{
    if (method == "Stream")
    {
        using var call = client.Stream(request, options);
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            connection = reply.Connection;
            if (reply.Index == 0)
            {
                Console.WriteLine($"first {id} conn={connection}");
                if (args.Contains("--cancel-after-first")) cancel.Cancel();
            }
        }
    }
    else
    {
        connection = (await client.WorkAsync(request, options)).Connection;
    }
    Console.WriteLine($"status {id} {StatusCode.OK} conn={connection}");
}
catch (RpcException e)
{
    Console.WriteLine($"status {id} {e.StatusCode} conn={connection} detail={e.Status.Detail}");
}
return 0;
