using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Switchboard;
using Switchboard.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>services.AddSwitchboard(...)</c>: the application's <see cref="IBus"/> as a singleton whose life is the host's.</summary>
public static class SwitchboardServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IBus"/> (a <see cref="LocalBus"/>, or a <see cref="BusClient"/> when
    /// <see cref="SwitchboardOptions.Broker"/> is set) and the hosted service that connects it at start and drains and
    /// disposes it at stop. The options are checked when the host starts.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Sets the options in code (after any configuration binding).</param>
    public static IServiceCollection AddSwitchboard(this IServiceCollection services, Action<SwitchboardOptions>? configure = null) =>
        services.AddSwitchboard(SwitchboardOptions.SectionName, configure);

    /// <summary>As <see cref="AddSwitchboard(IServiceCollection, Action{SwitchboardOptions}?)"/>, with the options bound
    /// from <paramref name="configuration"/>: a section (<c>configuration.GetSection("Switchboard")</c>) is bound as it
    /// is; a whole configuration is read at its <c>Switchboard</c> section.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">A configuration section, or the whole configuration.</param>
    /// <param name="configure">Sets options in code after binding.</param>
    public static IServiceCollection AddSwitchboard(this IServiceCollection services, IConfiguration configuration, Action<SwitchboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration as IConfigurationSection ?? configuration.GetSection(SwitchboardOptions.SectionName);
        services.AddOptions<SwitchboardOptions>().Bind(section);
        return services.AddSwitchboard(section.Path, configure);
    }

    private static IServiceCollection AddSwitchboard(this IServiceCollection services, string section, Action<SwitchboardOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SwitchboardOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SwitchboardOptions>>(new SwitchboardOptionsValidator(section)));
        services.TryAddSingleton<SwitchboardBusService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SwitchboardBusService>(static sp => sp.GetRequiredService<SwitchboardBusService>()));
        services.TryAddSingleton<IBus>(static sp => sp.GetRequiredService<SwitchboardBusService>().Bus);
        return services;
    }
}
