using static TorchSharp.torch;

namespace Mechanist.Host.Running;

/// <summary>
/// The one reader of device names — <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> — for the command line
/// (<c>--device</c>), <c>mechanist.json</c> (<c>device</c>) and MSBuild (<c>MechanistDevice</c>).
/// </summary>
public static class Devices
{
    public const string Expected = "auto, cpu, cuda or cuda:N";

    /// <summary>Whether <paramref name="text"/> is a device name at all (whether it exists here is <see cref="Resolve"/>'s question).</summary>
    public static bool IsValid(string text) =>
        text is "auto" or "cpu" or "cuda" ||
        (text.StartsWith("cuda:", StringComparison.Ordinal) && text[5..] is { Length: >= 1 and <= 9 } index && index.All(char.IsAsciiDigit));

    /// <summary>
    /// The device <paramref name="text"/> names on this machine: <c>auto</c> is CUDA when available, else the CPU.
    /// A malformed name, or a CUDA device this build or machine lacks, is a <see cref="MechanistInputException"/>
    /// whose message starts with the name (the caller says where it came from).
    /// </summary>
    public static Device Resolve(string text)
    {
        if (!IsValid(text)) throw new MechanistInputException($"'{text}' is not a device; expected {Expected}.");
        if (text == "auto") return cuda.is_available() ? CUDA : CPU;
        if (text == "cpu") return CPU;
        if (!cuda.is_available())
            throw new MechanistInputException($"'{text}': CUDA is not available in this build or on this machine; use cpu or auto.");
        int index = text.Length > 5 ? int.Parse(text[5..], System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (index >= cuda.device_count())
            throw new MechanistInputException($"'{text}': no such CUDA device (found {cuda.device_count()}).");
        return new Device(TorchSharp.DeviceType.CUDA, index);
    }
}
