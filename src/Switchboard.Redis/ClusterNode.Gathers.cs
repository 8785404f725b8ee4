using System.Collections.Concurrent;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>Gathers across nodes: each node mirrors the other nodes' producers (a mirror's handler sends PRODUCE_IN to
/// the owner node and waits for its REPLY), so a gather asks every producer of the cluster and its summary names them
/// all; results reach the result listeners of every node that has some for the topic.</summary>
public sealed partial class ClusterNode
{
    private readonly ConcurrentDictionary<string, ProducerRegistration> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _resultTopics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Subscription, string> _resultListeners = new();

    void IRouterCluster.ProducerChanged(ProducerRegistration producer, bool removed)
    {
        if (IsOwn(producer.Session))
        {
            return;
        }

        lock (_state)
        {
            if (removed)
            {
                _producers.TryRemove(new KeyValuePair<string, ProducerRegistration>(producer.Name, producer));
            }
            else
            {
                _producers[producer.Name] = producer;
            }

            foreach (var link in Links)
            {
                WriteProducer(link, producer, removed);
            }
        }
    }

    private static void WriteProducer(NodeLink link, ProducerRegistration producer, bool removed)
    {
        if (removed)
        {
            link.Write(producer.Name, static (output, crc, in name) => Frames.RemoveByName(output, crc, FrameType.RemoveProducer, 0, name));
        }
        else
        {
            link.Write(producer, static (output, crc, in p) => Frames.AddProducer(output, crc, 0, p.Name, p.Group, p.Topics));
        }
    }

    void IRouterCluster.ResultListenerChanged(Subscription listener, string topic, bool removed)
    {
        if (IsOwn(listener.Session))
        {
            return;
        }

        lock (_state)
        {
            if (removed ? !_resultListeners.TryRemove(listener, out _) : !_resultListeners.TryAdd(listener, topic))
            {
                return;
            }

            var count = _resultTopics.GetValueOrDefault(topic) + (removed ? -1 : 1);
            if (count == 0)
            {
                _resultTopics.Remove(topic);
            }
            else
            {
                _resultTopics[topic] = count;
            }

            if (count == (removed ? 0 : 1))
            {
                foreach (var link in Links)
                {
                    link.Write((!removed, topic), static (output, crc, in t) => NodeFrames.WriteResultInterest(output, t.Item1, t.topic));
                }
            }
        }
    }

    void IRouterCluster.ResultDelivered(in BusMessage result)
    {
        foreach (var link in Links)
        {
            if (link.ResultTopics.ContainsKey(result.Event))
            {
                link.Write(result, static (output, crc, in m) => NodeFrames.WriteMessage(output, NodeFrames.Result, m));
            }
        }
    }

    /// <summary>This node's producers and result topics, for a state (under the state lock).</summary>
    private void WriteGatherState(NodeLink link)
    {
        foreach (var producer in _producers.Values)
        {
            WriteProducer(link, producer, removed: false);
        }

        foreach (var topic in _resultTopics.Keys)
        {
            link.Write(topic, static (output, crc, in t) => NodeFrames.WriteResultInterest(output, true, t));
        }
    }

    /// <summary>The gather frames other nodes send: producers coming, changing and going, result interest, results.</summary>
    private ValueTask OnGatherFrame(NodeLink link, FrameType type, ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, type);
        switch (type)
        {
            case FrameType.AddProducer:
                _ = r.U32("correlation");
                var name = r.RequiredString("name");
                var group = r.String("group", emptyIsNull: true);
                var topics = r.Strings("topics");
                r.End();
                MirrorProducer(link, name, group, topics);
                return default;
            case FrameType.RemoveProducer:
                _ = r.U32("correlation");
                var gone = r.RequiredString("name");
                r.End();
                RemoveProducerMirror(link, gone);
                return default;
            case NodeFrames.ResultInterest:
                var add = r.U8("add") != 0;
                var topic = r.RequiredString("topic");
                r.End();
                _ = add ? link.ResultTopics.TryAdd(topic, 0) : link.ResultTopics.TryRemove(topic, out _);
                return default;
            case NodeFrames.Result:
                _ = r.U32("subscription");
                var producer = r.RequiredString("producer");
                var resultTopic = r.RequiredString("topic");
                var headers = r.Headers("headers");
                var data = r.Payload("data");
                r.End();
                return Router.DeliverLocalResultAsync(resultTopic, new BusMessage(producer, resultTopic, data, headers));
            default:
                return default; // a frame of a newer node: ignored
        }
    }

    private void MirrorProducer(NodeLink link, string name, string? group, string[] topics)
    {
        link.ConfirmProducer(name);
        try
        {
            if (link.Producers.TryGetValue(name, out var known))
            {
                foreach (var topic in known.Topics.Except(topics).ToList())
                {
                    Router.ChangeProducerTopic(known, topic, add: false);
                }

                foreach (var topic in topics.Except(known.Topics).ToList())
                {
                    Router.ChangeProducerTopic(known, topic, add: true);
                }

                return;
            }

            ProducerHandler forward = (request, cancellationToken) => AskAsync(link, FrameType.ProduceIn, request.Producer, request.Topic, request.Headers, request.Data, cancellationToken);
            link.Producers[name] = Router.AddProducer(link.Session, topics, forward, new ProducerOptions { Name = name, Group = group });
        }
        catch (SwitchboardException ex)
        {
            Log.MirrorRefused(link.Member, name, ex.Message);
        }
    }

    private void RemoveProducerMirror(NodeLink link, string name)
    {
        if (link.Producers.TryRemove(name, out var mirror))
        {
            Router.RemoveProducer(mirror);
        }
    }

    private void EndProducerState(NodeLink link)
    {
        foreach (var name in link.TakeStaleProducers())
        {
            RemoveProducerMirror(link, name);
        }
    }
}
