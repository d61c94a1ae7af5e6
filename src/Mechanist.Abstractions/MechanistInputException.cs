namespace Mechanist;

/// <summary>
/// Bad input from the user: a missing or malformed file, a wrong shape, an unknown option or method.
/// The message is one clear sentence naming the file, key or option and what was expected; the command line
/// prints it and exits with code 2.
/// </summary>
public class MechanistInputException(string message, Exception? inner = null) : Exception(message, inner);
