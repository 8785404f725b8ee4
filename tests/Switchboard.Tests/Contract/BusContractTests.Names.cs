namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Theory]
    [InlineData("", "empty")]
    [InlineData("a.b", "a dot at position 1")]
    [InlineData("my sender", "a space at position 2")]
    [InlineData("s#1", "the character '#' at position 1")]
    public async Task Sender_names_are_validated_with_an_error_that_says_what_and_where(string name, string expected)
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.AddSenderAsync(name, ["tick"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.InvalidName, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overlong_sender_name_is_refused_naming_the_limit()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.AddSenderAsync(new string('s', NameRules.MaxSenderLength + 1), ["tick"], cancellationToken: Ct));
        Assert.Contains($"the limit is {NameRules.MaxSenderLength}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a..b", "two dots in a row")]
    [InlineData(".a", "empty token at the start")]
    [InlineData("a.", "empty token at the end")]
    [InlineData("a.*", "only channel events (starting with '#') may be declared as patterns")]
    [InlineData("a#b", "'#' may only be the first character")]
    [InlineData("#", "nothing after the channel prefix")]
    public async Task Declared_event_names_are_validated(string @event, string expected)
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.AddSenderAsync("s1", [@event], cancellationToken: Ct));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a.>.b", "'>' may only be the last token")]
    [InlineData("a*", "a wildcard must be a whole token")]
    [InlineData("a..b", "two dots in a row")]
    [InlineData("sensors.te mp", "a space")]
    public async Task Listener_patterns_are_validated(string pattern, string expected)
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.ListenAsync("s1", pattern, cancellationToken: Ct));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserved_presence_events_cannot_be_declared()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.AddSenderAsync("s1", ["#connect"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.ReservedName, error.Code);
    }
}
