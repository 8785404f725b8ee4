namespace Switchboard.Wire;

/// <summary>One SENDER_LIST frame's share of a sender list: the entries from <see cref="Start"/> up to (not including)
/// <see cref="End"/>, and whether another page follows (null: the client did not ask for pages, this is the only frame).</summary>
public readonly record struct SenderPage(IReadOnlyList<SenderInfo> Senders, int Start, int End, bool? More);

/// <summary>Splits a sender list into SENDER_LIST frames that each fit the frame size the client accepts.</summary>
public static class SenderPages
{
    /// <summary>
    /// Fills <paramref name="pages"/> with frames of at most <paramref name="maxFrameSize"/> (the length field a client
    /// accepts) and 65 535 entries each. False, with the reason, when the list cannot be sent that way: one sender's
    /// entry alone is too large, or an unpaged client would need more than one frame.
    /// </summary>
    public static bool TrySplit(IReadOnlyList<SenderInfo> senders, int maxFrameSize, bool paged, List<SenderPage> pages, out string? problem)
    {
        // Type and flags, the CRC a client may ask for, corr, count and the more flag.
        var budget = (long)maxFrameSize - Protocol.MinLength - 4 - Frames.SenderListOverhead;
        var start = 0;
        long used = 0;
        for (var i = 0; i < senders.Count; i++)
        {
            var size = Frames.SenderEntrySize(senders[i]);
            if (size > budget)
            {
                problem = $"Sender '{senders[i].Name}' alone takes {size} bytes in a sender list, more than the {maxFrameSize}-byte frames this connection accepts.";
                return false;
            }

            if (used + size > budget || i - start == ushort.MaxValue)
            {
                if (!paged)
                {
                    problem = $"The list of {senders.Count} senders does not fit one {maxFrameSize}-byte frame; ask with the paged-lists feature (HELLO features bit 0x2) to get it in pages.";
                    return false;
                }

                pages.Add(new SenderPage(senders, start, i, true));
                (start, used) = (i, 0);
            }

            used += size;
        }

        pages.Add(new SenderPage(senders, start, senders.Count, paged ? false : null));
        problem = null;
        return true;
    }
}
