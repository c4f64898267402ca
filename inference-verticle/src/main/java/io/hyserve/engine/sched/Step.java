package io.hyserve.engine.sched;

import java.util.List;

/**
 * What one forward step runs: for each scheduled request, tokens {@code [start, start+count)}; requests whose
 * chunk reaches their last known token get logits and sample. {@code unservable} requests cannot fit in the
 * whole KV pool even alone and must be finished by the caller.
 */
public record Step<R extends Request>(List<Chunk<R>> chunks, List<R> unservable, int preempted) {

    /** A contiguous run of one request's tokens; {@code samples} when it reaches the request's last token. */
    public record Chunk<R extends Request>(R request, int start, int count, boolean samples) {
        Chunk(R request, int start, int count) {
            this(request, start, count, start + count == request.length());
        }
    }

    public int tokens() {
        int total = 0;
        for (Chunk<R> chunk : chunks) {
            total += chunk.count();
        }
        return total;
    }

    public boolean isEmpty() {
        return chunks.isEmpty();
    }
}
