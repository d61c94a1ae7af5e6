using Microsoft.Extensions.DependencyInjection;

namespace Mechanist;

/// <summary>
/// Optional: a plugin type implementing this registers the services its methods take in their constructors.
/// The host calls it once, before building the service provider.
/// </summary>
public interface IMechanistPlugin
{
    void ConfigureServices(IServiceCollection services);
}
