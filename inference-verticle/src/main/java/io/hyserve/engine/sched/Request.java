package io.hyserve.engine.sched;

import io.hyserve.engine.kv.BlockTable;
import java.util.Arrays;

/**
 * The scheduling state of one sequence: its tokens (prompt, then generated), how many of them have K/V in
 * the cache ({@code computed}), and its blocks. Every step the scheduler lets {@code computed} catch up
 * with the known tokens; a prefill chunk, a decode step and a recompute after preemption are all that.
 */
public abstract class Request {
    private final String id;
    private final int promptLength;
    private int[] tokens;
    private int length;
    int computed;
    int preemptions;
    /** Prompt tokens the prefix cache served at first admission; -1 before it. */
    int cachedPromptTokens = -1;
    private final long createdNanos = System.nanoTime();
    /** When the scheduler first gave it a step (its queue time ends there). */
    long admittedNanos;
    final BlockTable blocks = new BlockTable();

    protected Request(String id, int[] prompt) {
        this.id = id;
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        this.length = prompt.length;
    }

    public String id() {
        return id;
    }

    public int promptLength() {
        return promptLength;
    }

    /** Prompt plus generated tokens. */
    public int length() {
        return length;
    }

    public int generated() {
        return length - promptLength;
    }

    public int token(int index) {
        return tokens[index];
    }

    /** Tokens whose K/V are in the cache. */
    public int computed() {
        return computed;
    }

    /** Prompt tokens found in the prefix cache when the request was first admitted (0 before that). */
    public int cachedPromptTokens() {
        return Math.max(0, cachedPromptTokens);
    }

    /** Nanoseconds from creation to first admission; 0 before it. */
    public long queueNanos() {
        return admittedNanos == 0 ? 0 : admittedNanos - createdNanos;
    }

    public int preemptions() {
        return preemptions;
    }

    public BlockTable blocks() {
        return blocks;
    }

    /** Appends a generated token; the next step computes its K/V. */
    public void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, length * 2);
        }
        tokens[length++] = token;
    }

    int[] tokenArray() {
        return tokens;
    }
}
