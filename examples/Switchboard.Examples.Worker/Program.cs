// A worker service (the .NET generic host) with Switchboard from dependency injection: AddSwitchboard gives every
// service the same IBus, connected before they start and drained after they stop. Thermometer sends a reading every
// period; TemperatureLog logs every sender's #temperature. Without a broker the bus is in process; with
// Switchboard:Broker set they meet on that broker, where any other application can listen and send too:
//
//   dotnet run --project examples/Switchboard.Examples.Worker
//   dotnet run --project examples/Switchboard.Examples.Worker -- --Switchboard:Broker sb://127.0.0.1:7222 --Thermometer:Period 00:00:00.5
//
// Ctrl+C or SIGTERM stops it: the thermometer leaves the bus cleanly ('#disconnect' with reason 'closed').
using Switchboard.Examples.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
builder.Services.AddSwitchboard(builder.Configuration);   // IBus, from the "Switchboard" section
builder.Services.Configure<ThermometerOptions>(builder.Configuration.GetSection("Thermometer"));
builder.Services.AddHostedService<Thermometer>();
builder.Services.AddHostedService<TemperatureLog>();
builder.Build().Run();
