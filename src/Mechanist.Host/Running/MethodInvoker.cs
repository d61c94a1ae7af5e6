using Mechanist.Host.Discovery;
using Mechanist.Validators;

namespace Mechanist.Host.Running;

/// <summary>
/// Calls into methods so that their failures become findings: an input error from the method stays an input
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

    /// <summary>
    /// Runs each validator with a fresh context; a validator that throws is reported as MECH0001 and the run goes on.
    /// Returns every finding in order.
    /// </summary>
    public static IReadOnlyList<Finding> RunValidators(IEnumerable<(MethodEntry Entry, Validator Validator)> validators,
        Func<Action<Finding>, MethodEntry, ValidationContext> createContext)
    {
        var findings = new List<Finding>();
        foreach (var (entry, validator) in validators)
        {
            var reported = new List<Finding>();
            try
            {
                Invoke(entry, () =>
                {
                    validator.Validate(createContext(reported.Add, entry));
                    return 0;
                });
                var undeclared = reported.FirstOrDefault(f => !validator.SupportedChecks.Contains(f.Descriptor));
                if (undeclared is not null)
                    throw new MethodFailedException(entry, new InvalidOperationException(
                        $"reported check {undeclared.Id}, which is not among its SupportedChecks"));
                findings.AddRange(reported);
            }
            catch (MethodFailedException e)
            {
                findings.AddRange(reported);
                findings.Add(e.ToFinding());
            }
        }
        return findings;
    }
}
