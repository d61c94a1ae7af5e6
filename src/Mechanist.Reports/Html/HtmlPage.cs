using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Html;

/// <summary>
/// The shell of every report page: one self-contained file, styles and script inline, data as JSON in a
/// non-executed script block. A Content-Security-Policy allows no fetch of any kind and runs only the page's own
/// script (by its SHA-256), so a page cannot reach the network, and text that slipped through as markup still could not run.
/// </summary>
public static class HtmlPage
{
    static readonly Lazy<string> Css = new(() => Asset("report.css"));
    static readonly Lazy<string> Script = new(() => Asset("report.js"));

    /// <summary>JSON fit to sit inside a script block: &lt;, &gt;, &amp; and quotes escaped as \uXXXX.</summary>
    static readonly JsonSerializerOptions DataJson = new() { Encoder = JavaScriptEncoder.Default };

    /// <summary>Escapes text for an element's content or an attribute value.</summary>
    public static string Encode(string? text) => WebUtility.HtmlEncode(text ?? "");

    public static string Render(string title, string body, JsonNode? data = null, string? generator = null)
    {
        var script = Script.Value;
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script)));
        var sb = new StringBuilder(body.Length + script.Length + 8192);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-")
          .Append(hash).Append("'\">\n");
        if (generator is not null) sb.Append("<meta name=\"generator\" content=\"").Append(Encode(generator)).Append("\">\n");
        sb.Append("<title>").Append(Encode(title)).Append("</title>\n<style>\n").Append(Css.Value).Append("</style>\n</head>\n<body>\n");
        sb.Append(body);
        if (data is not null)
            sb.Append("\n<script type=\"application/json\" id=\"mechanist-data\">").Append(data.ToJsonString(DataJson)).Append("</script>");
        sb.Append("\n<script>").Append(script).Append("</script>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>
    /// An SVG file made fit to sit inline in a page: the XML declaration dropped and every id (and reference to one)
    /// prefixed, so that two plots on one page do not share clip paths.
    /// </summary>
    public static string InlineSvg(string svg, string idPrefix)
    {
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        if (start < 0) throw new ArgumentException("not an SVG document", nameof(svg));
        var body = svg[start..];
        body = body.Replace("id=\"", $"id=\"{idPrefix}-", StringComparison.Ordinal)
                   .Replace("url(#", $"url(#{idPrefix}-", StringComparison.Ordinal)
                   .Replace("href=\"#", $"href=\"#{idPrefix}-", StringComparison.Ordinal);
        return body.Replace("<svg ", "<svg role=\"img\" ", StringComparison.Ordinal);
    }

    static string Asset(string name)
    {
        var resource = $"Mechanist.Reports.Html.{name}";
        using var stream = typeof(HtmlPage).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded asset {resource} is missing");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
