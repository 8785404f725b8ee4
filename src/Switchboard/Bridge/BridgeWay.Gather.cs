namespace Switchboard.Bridge;

internal sealed partial class BridgeWay
{
    /// <summary>The far-side producer: gathers on the origin bus and answers with every origin result packed in one
    /// (<see cref="GatherPacking"/>), with the origin producers that were missing or failed. A gather this bridge
    /// already forwarded (its name in <see cref="BridgeHeaders.Via"/>) is answered with an empty pack at once.</summary>
    private async ValueTask<Payload> ProduceAsync(GatherRequest request, CancellationToken cancellationToken)
    {
        if (BridgeStamp.Crossed(request.Headers, _bridge.Name))
        {
            Counters.AddSkipped();
            return GatherPacking.Pack(_bridge.Name, [], [], []);
        }

        Counters.AddGather();
        var ttl = BridgeStamp.Ttl(request.Headers) ?? _bridge.Options.GatherTtl;
        var headers = BridgeStamp.Stamp(request.Headers, null, _bridge.Name);
        var call = _origin.GatherAsync(request.Topic, request.Data, ttl, headers, cancellationToken);
        var own = Reverse?.ProducerName;
        var results = new List<GatherResult>();
        await foreach (var result in call.WithCancellation(cancellationToken))
        {
            if (result.Producer != own)
            {
                results.Add(new GatherResult(result.Producer, result.Topic, result.Data));
            }
        }

        var summary = await call.Summary;
        return GatherPacking.Pack(_bridge.Name, results, summary.Missing.Where(m => m != own), summary.Failed.Where(f => f.Key != own));
    }
}
