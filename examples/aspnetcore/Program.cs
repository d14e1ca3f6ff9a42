// The seeds' minimal API (Andrew Lock's /slowtest, its ThrowIfCancellationRequested variant and its
// OperationCanceledMiddleware), plus a handler that passes its token on to an outgoing HttpClient call and one that
// turns tether's deadline header into a CancellationTokenSource. HTTP/1.1 on 127.0.0.1, meant to run behind tether.
//
//   tether-aspnetcore [port] [--deadline-margin-ms N]
//
// Port 0 (the default) picks a free port; once listening it prints `listening http://127.0.0.1:<port>`. Every log
// line is one line with a UTC timestamp in ms and the request's X-Request-Id (`request_id=`), so it can be put next
// to tether's line for the same request.
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Console;

var port = args.FirstOrDefault(a => !a.StartsWith("--")) is { } p ? int.Parse(p) : 0;
// How long before tether's deadline the app gives up by itself: the time it needs to write its own answer.
var marginArg = Array.IndexOf(args, "--deadline-margin-ms");
var deadlineMargin = TimeSpan.FromMilliseconds(marginArg >= 0 ? int.Parse(args[marginArg + 1]) : 500);
// tether.yaml's `deadline_header`: the remaining budget in whole milliseconds (docs/cancellation.md).
const string DeadlineHeader = "X-Request-Timeout-Ms";

var builder = WebApplication.CreateBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.UseUtcTimestamp = true;
    console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
    console.ColorBehavior = LoggerColorBehavior.Disabled;
});
// The handlers' lines are the point; the framework's own info lines would bury them.
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
    kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http1));
// For /downstream. No proxy: the call goes to this app on loopback, whatever http_proxy says.
builder.Services.AddSingleton(new HttpClient(new SocketsHttpHandler { UseProxy = false }));

// W3C trace context, as OpenTelemetry's ASP.NET Core instrumentation gets it (without the package): a listener on
// ASP.NET Core's ActivitySource makes every request an Activity that continues the incoming `traceparent`, which
// tether forwards unchanged and logs as trace_id / parent_span_id.
ActivitySource.AddActivityListener(new ActivityListener
{
    ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
    Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
});

var app = builder.Build();
app.UseMiddleware<OperationCanceledMiddleware>();
// The instant Kestrel cancels HttpContext.RequestAborted (the token bound to the handlers' CancellationToken
// parameters), before the handler notices: what the delay to tether's request_cancelled line is measured on.
app.Use(async (context, next) =>
{
    var logger = context.RequestServices.GetRequiredService<ILogger<RequestAbortedWatch>>();
    var id = context.TetherRequestId();
    using var watch = context.RequestAborted.Register(() =>
        logger.LogInformation("RequestAborted fired request_id={RequestId} path={Path}", id, context.Request.Path));
    await next(context);
});

// A request that completes at once (the page a browser test opens, and its fetch that must fire nothing).
app.MapGet("/hello", (HttpContext context) =>
{
    var id = context.TetherRequestId();
    app.Logger.LogInformation("Hello answered request_id={RequestId}", id);
    return Results.Content("<!doctype html><title>tether</title><p>hello</p>\n", "text/html");
});

// The seeds' endpoint: slow async work that takes the request's token. `ms` shortens it (10 s by default).
app.MapGet("/slowtest", async (CancellationToken token, HttpContext context, int? ms) =>
{
    var id = context.TetherRequestId();
    app.Logger.LogInformation("Starting to do slow work request_id={RequestId} trace_id={TraceId} parent_span_id={ParentSpanId}",
        id, Activity.Current?.TraceId.ToHexString() ?? "-", Activity.Current?.ParentSpanId.ToHexString() ?? "-");

    // slow async action, e.g. call external api
    var delay = TimeSpan.FromMilliseconds(ms ?? 10_000);
    await Task.Delay(delay, token);

    var message = $"Finished slow delay of {delay.TotalSeconds} seconds.";
    app.Logger.LogInformation("{Message} request_id={RequestId}", message, id);
    return message;
});

// The seeds' synchronous variant: work that cannot take a token checks it between steps of 1 s, so it stops at most
// one step after the token fired.
app.MapGet("/slowtest-loop", (CancellationToken token, HttpContext context, int? steps) =>
{
    var id = context.TetherRequestId();
    app.Logger.LogInformation("Starting to do slow work request_id={RequestId}", id);

    for (var i = 0; i < (steps ?? 10); i++)
    {
        token.ThrowIfCancellationRequested();
        // slow non-cancellable work
        Thread.Sleep(1000);
    }

    var message = $"Finished slow loop of {steps ?? 10} steps.";
    app.Logger.LogInformation("{Message} request_id={RequestId}", message, id);
    return message;
});

// Passes the token on to an outgoing call (here /slowtest of this same app, as if it were another service): when
// the client leaves, HttpClient aborts the outgoing request, and the downstream service's own token fires too. The
// downstream request carries `<id>-downstream` as its X-Request-Id, so both show up in the log.
app.MapGet("/downstream", async (CancellationToken token, HttpContext context, HttpClient http, int? ms) =>
{
    var id = context.TetherRequestId();
    var downstreamId = id + "-downstream";
    using var request = new HttpRequestMessage(HttpMethod.Get,
        $"http://127.0.0.1:{context.Connection.LocalPort}/slowtest?ms={ms ?? 10_000}");
    request.Headers.Add("X-Request-Id", downstreamId);
    app.Logger.LogInformation("Calling downstream request_id={RequestId} downstream_id={DownstreamId}", id,
        downstreamId);
    try
    {
        using var response = await http.SendAsync(request, token);
        var body = await response.Content.ReadAsStringAsync(token);
        app.Logger.LogInformation("Downstream answered {Status} request_id={RequestId}", (int)response.StatusCode, id);
        return $"downstream said: {body}";
    }
    catch (OperationCanceledException) when (token.IsCancellationRequested)
    {
        app.Logger.LogInformation("Downstream call cancelled request_id={RequestId} downstream_id={DownstreamId}", id,
            downstreamId);
        throw;  // to OperationCanceledMiddleware, like any other cancellation
    }
});

// The deadline: tether sends the remaining budget of the route's `timeout` in X-Request-Timeout-Ms. The handler
// gives up by itself a margin before it runs out, so that its own answer (504 here) still reaches the client before
// tether's deadline would end the request. Linked with RequestAborted: a client that leaves still cancels it.
app.MapGet("/deadline", async (HttpContext context, int? ms) =>
{
    var id = context.TetherRequestId();
    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
    long? budgetMs = long.TryParse(context.Request.Headers[DeadlineHeader], out var b) ? b : null;
    if (budgetMs is { } budget)
    {
        deadline.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(0, budget - deadlineMargin.TotalMilliseconds)));
    }
    app.Logger.LogInformation("Starting work with a deadline request_id={RequestId} budget_ms={Budget} margin_ms={Margin}",
        id, budgetMs?.ToString() ?? "none", deadlineMargin.TotalMilliseconds);
    var started = Stopwatch.StartNew();
    try
    {
        await Task.Delay(TimeSpan.FromMilliseconds(ms ?? 60_000), deadline.Token);
    }
    catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
    {
        app.Logger.LogInformation("Deadline reached, work stopped request_id={RequestId} budget_ms={Budget} elapsed_ms={Elapsed}",
            id, budgetMs, started.ElapsedMilliseconds);
        return Results.Json(new { error = "deadline_exceeded", request_id = id }, statusCode: 504);
    }
    app.Logger.LogInformation("Finished within the deadline request_id={RequestId} elapsed_ms={Elapsed}", id,
        started.ElapsedMilliseconds);
    return Results.Text("finished within the deadline\n");
});

await app.StartAsync();
// After start, Urls holds the bound address, port 0 resolved.
Console.WriteLine($"listening {app.Urls.First()}");
await app.WaitForShutdownAsync();

// The log category of the RequestAborted watch.
class RequestAbortedWatch;
