using Mechanist.Host.Discovery;

namespace Mechanist.Host.Running;

/// <summary>
/// Calls into methods so that their failures become findings (the core of <see cref="MethodRunner"/>): an input error from the method stays an input
/// error (exit 2), cancellation stays cancellation, anything else becomes <see cref="MethodFailedException"/>
/// (MECH0001).
/// </summary>
public static class MethodInvoker
{
    public static T Invoke<T>(MethodEntry entry, Func<T> call)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is not (MechanistInputException or OperationCanceledException or MethodFailedException))
        {
            throw new MethodFailedException(entry, e);
        }
    }
}
