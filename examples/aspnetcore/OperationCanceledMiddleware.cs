// The seeds' middleware (Andrew Lock, "Using CancellationTokens in ASP.NET Core minimal APIs"): an
// OperationCanceledException that reaches it means the handler stopped because its token fired, so it is logged as
// one line instead of an exception with a stack trace. The line also names the request (tether's X-Request-Id), so
// it can be put next to tether's request_cancelled line for the same request.
class OperationCanceledMiddleware
{
    private readonly RequestDelegate _next;
    private readonly ILogger<OperationCanceledMiddleware> _logger;

    public OperationCanceledMiddleware(RequestDelegate next, ILogger<OperationCanceledMiddleware> logger)
    {
        _next = next;
        _logger = logger;
    }

    public async Task Invoke(HttpContext context)
    {
        try
        {
            await _next(context);
        }
        catch (OperationCanceledException)
        {
            _logger.LogInformation("Request was cancelled request_id={RequestId} path={Path}",
                context.TetherRequestId(), context.Request.Path);
            // Nobody reads it: the client is gone. The seeds answer 409; any status does, as long as no middleware
            // behind this one turns it into a page.
            context.Response.StatusCode = 409;
        }
    }
}
