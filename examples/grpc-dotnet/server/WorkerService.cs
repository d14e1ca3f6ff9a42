using Grpc.Core;

namespace TetherExample;

// The handlers do their "work" as a Task.Delay bound to the call's CancellationToken, the way a real handler passes
// the token to its database or HTTP calls, and print what happened to each call:
//
//   call <method> <id> started conn=<connection id> grpc-timeout=<header or -> te=<header or ->
//   call <method> <id> cancelled conn=<connection id> after_ms=<ms>
//   call <method> <id> completed conn=<connection id> after_ms=<ms>
//
// The connection id is Kestrel's HttpContext.Connection.Id: behind a proxy it names the proxy's upstream connection,
// so a test can see that a cancelled call left that connection serving the next one.
public sealed class WorkerService : Worker.WorkerBase
{
    public const string IgnoredGrpcTimeoutKey = "ignored-grpc-timeout";

    public override async Task<WorkReply> Work(WorkRequest request, ServerCallContext context)
    {
        var call = Begin("Work", request, context);
        await call.Run(() => Task.Delay(TimeSpan.FromSeconds(request.Seconds), context.CancellationToken));
        return new WorkReply { Id = request.Id, Connection = call.Connection };
    }

    public override async Task Stream(WorkRequest request, IServerStreamWriter<WorkReply> responseStream,
                                      ServerCallContext context)
    {
        var call = Begin("Stream", request, context);
        await call.Run(async () =>
        {
            // The first message tells the client the work has started; the second comes when it is done.
            await responseStream.WriteAsync(new WorkReply { Id = request.Id, Connection = call.Connection, Index = 0 },
                                            context.CancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(request.Seconds), context.CancellationToken);
            await responseStream.WriteAsync(new WorkReply { Id = request.Id, Connection = call.Connection, Index = 1 },
                                            context.CancellationToken);
        });
    }

    private static CallRecord Begin(string method, WorkRequest request, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var timeout = http.Items[IgnoredGrpcTimeoutKey] as string ?? http.Request.Headers["grpc-timeout"].ToString();
        var te = http.Request.Headers.TE.ToString();
        var call = new CallRecord(method, request.Id, http.Connection.Id);
        Console.WriteLine($"call {method} {request.Id} started conn={call.Connection} " +
                          $"grpc-timeout={(timeout.Length > 0 ? timeout : "-")} te={(te.Length > 0 ? te : "-")}");
        return call;
    }

    private sealed record CallRecord(string Method, string Id, string Connection)
    {
        private readonly DateTime _start = DateTime.UtcNow;

        // Runs the work and prints how it ended. A cancelled call rethrows: gRPC answers it with CANCELLED (or
        // DEADLINE_EXCEEDED), which no one reads once the client has gone.
        public async Task Run(Func<Task> work)
        {
            try
            {
                await work();
                Print("completed");
            }
            catch (OperationCanceledException)
            {
                Print("cancelled");
                throw;
            }
        }

        private void Print(string outcome) =>
            Console.WriteLine($"call {Method} {Id} {outcome} conn={Connection} " +
                              $"after_ms={(long)(DateTime.UtcNow - _start).TotalMilliseconds}");
    }
}
