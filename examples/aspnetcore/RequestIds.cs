static class RequestIds
{
    // tether sends every request upstream with X-Request-Id (the client's own if it sent a valid one, otherwise one
    // it generated) and logs the same value as `request_id`: the key that joins the app's log to tether's.
    public static string TetherRequestId(this HttpContext context) =>
        context.Request.Headers.TryGetValue("X-Request-Id", out var id) && !string.IsNullOrEmpty(id)
            ? id.ToString()
            : context.TraceIdentifier;
}
