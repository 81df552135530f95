using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SafeRoute.Remote;

/// <summary>
/// Reads a whole answer body into memory inside the resilience pipeline, so that the pipeline's attempt and total
/// timeouts (and its retries and circuit breaker) cover the body and not only the headers: <see cref="HttpClient"/>
/// buffers a body after the handlers returned, where no pipeline timeout applies. Bodies over the size limit fail.
/// </summary>
internal sealed class ResponseBufferingHandler(long maxBytes, ILogger? logger) : DelegatingHandler
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            byte[] body = await ResponseBody.ReadAsync(response.Content, maxBytes, request.RequestUri, _logger, cancellationToken).ConfigureAwait(false);
            var buffered = new ByteArrayContent(body);
            foreach (KeyValuePair<string, IEnumerable<string>> header in response.Content.Headers)
            {
                if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    buffered.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            response.Content.Dispose();
            response.Content = buffered;
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }
}

/// <summary>Reads an answer body with a size limit, under a cancellation token (a stalled body ends when it is cancelled).</summary>
internal static class ResponseBody
{
    public static async Task<byte[]> ReadAsync(HttpContent content, long maxBytes, Uri? uri, ILogger logger, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is long declared && declared > maxBytes)
        {
            throw TooLarge(uri, maxBytes, logger);
        }

        Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var memory = new MemoryStream();
            byte[] buffer = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (memory.Length + read > maxBytes)
                {
                    throw TooLarge(uri, maxBytes, logger);
                }

                memory.Write(buffer, 0, read);
            }

            return memory.ToArray();
        }
    }

    private static SafeRouteException TooLarge(Uri? uri, long maxBytes, ILogger logger)
    {
        string reason = $"the answer body is longer than MaxResponseBytes ({maxBytes.ToString(CultureInfo.InvariantCulture)} bytes)";
        RemoteLog.Unreadable(logger, uri, reason);
        return new SafeRouteException($"The guard server at {uri} answered unreadably: {reason}.");
    }
}
