package io.hyserve.engine.tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * The mergeable ranks of a tiktoken vocabulary: rank → bytes and bytes → rank.
 *
 * <p>Bytes → rank is an open-addressing table probed with a slice of a caller's {@code byte[]}: no
 * allocation per lookup. All token bytes live in one array in rank order; a slot packs
 * {@code hash << 32 | rank + 1}, so most failed probes are rejected without touching the token bytes.
 *
 * <p>BPE's hot path asks a narrower question, "is part a + part b a token?", once per candidate pair. The
 * parts are tokens already, so a second table answers it from the two ranks: every split of every token
 * into two tokens ({@code (left, right) → rank}, 264k entries for Hunyuan), one probe, no byte hashing.
 * {@link BytePairEncoderReference} keeps asking with bytes, so the property tests compare both tables too.
 */
final class Vocabulary {

    static final int ABSENT = -1;

    private final byte[] tokenBytes; // every token's bytes, concatenated in rank order
    private final int[] offsets; // (size + 1) start of rank r's bytes in tokenBytes
    private final long[] slots; // (power of two) hash << 32 | rank + 1; 0 = empty
    private final int slotMask;
    private final int[] singleByteRanks = new int[256];
    private final long[] pairSlots; // (power of two) left << 40 | right << 20 | merged rank; EMPTY_PAIR = empty
    private final int pairShift; // 64 - log2(pairSlots.length), for Fibonacci hashing

    /** Pair slots pack three ranks of 20 bits, so one memory access answers a probe. */
    static final int MAX_SIZE = 1 << 20;

    private static final long EMPTY_PAIR = -1;
    private static final int RANK_BITS = 20;
    private static final long RANK_MASK = MAX_SIZE - 1;

    /** Builds the table; {@code source} names the origin in error messages (file name or "test"). */
    Vocabulary(List<byte[]> tokens, String source) throws IOException {
        if (tokens.size() > MAX_SIZE) {
            throw new IOException(source + ": " + tokens.size() + " tokens, more than the " + MAX_SIZE + " supported");
        }
        offsets = new int[tokens.size() + 1];
        int total = 0;
        for (int r = 0; r < tokens.size(); r++) {
            offsets[r] = total;
            total += tokens.get(r).length;
        }
        offsets[tokens.size()] = total;
        tokenBytes = new byte[total];
        for (int r = 0; r < tokens.size(); r++) {
            System.arraycopy(tokens.get(r), 0, tokenBytes, offsets[r], tokens.get(r).length);
        }

        // Load factor below 1/2 keeps probes short, failed ones (pieces that are not tokens) included.
        int capacity = Integer.highestOneBit(Math.max(2, tokens.size()) * 2) * 2;
        slots = new long[capacity];
        slotMask = capacity - 1;
        for (int r = 0; r < tokens.size(); r++) {
            if (offsets[r] == offsets[r + 1]) {
                throw new IOException(source + " line " + (r + 1) + ": empty token");
            }
            int existing = rank(tokenBytes, offsets[r], offsets[r + 1]);
            if (existing != ABSENT) {
                throw new IOException(source + " line " + (r + 1) + ": same bytes as rank " + existing);
            }
            int hash = hash(tokenBytes, offsets[r], offsets[r + 1]);
            int slot = hash & slotMask;
            while (slots[slot] != 0) {
                slot = (slot + 1) & slotMask;
            }
            slots[slot] = (long) hash << 32 | (r + 1);
        }

        Arrays.fill(singleByteRanks, ABSENT);
        for (int r = 0; r < tokens.size(); r++) {
            if (tokens.get(r).length == 1) {
                singleByteRanks[tokens.get(r)[0] & 0xFF] = r;
            }
        }
        for (int b = 0; b < 256; b++) {
            if (singleByteRanks[b] == ABSENT) {
                throw new IOException(source + ": no token for the single byte 0x"
                        + Integer.toHexString(0x100 | b).substring(1) + " (all 256 must be present)");
            }
        }

        pairSlots = pairTable(tokens.size());
        pairShift = fibonacciShift(pairSlots.length);
    }

    /** Every split of every token into two tokens, as {@code left << 40 | right << 20 | rank} slots. */
    private long[] pairTable(int size) {
        long[] splits = new long[1024];
        int count = 0;
        for (int r = 0; r < size; r++) {
            for (int split = offsets[r] + 1; split < offsets[r + 1]; split++) {
                int left = rank(tokenBytes, offsets[r], split);
                int right = left == ABSENT ? ABSENT : rank(tokenBytes, split, offsets[r + 1]);
                if (right != ABSENT) {
                    if (count == splits.length) {
                        splits = Arrays.copyOf(splits, 2 * count);
                    }
                    splits[count++] = pairKey(left, right) | r;
                }
            }
        }
        long[] table = new long[Integer.highestOneBit(Math.max(4, count * 5 / 3)) * 2]; // load 0.4 to 0.6
        Arrays.fill(table, EMPTY_PAIR);
        int shift = fibonacciShift(table.length);
        for (int i = 0; i < count; i++) {
            int slot = pairSlot(splits[i] & ~RANK_MASK, shift);
            while (table[slot] != EMPTY_PAIR) {
                slot = (slot + 1) & (table.length - 1);
            }
            table[slot] = splits[i];
        }
        return table;
    }

    /**
     * Reads a tiktoken file: one {@code base64(bytes) SP rank} line per token, where the rank must equal the
     * 0-based line index.
     */
    static Vocabulary read(Path file) throws IOException {
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "tokenizer vocabulary file is missing");
        }
        String name = file.toString();
        Base64.Decoder base64 = Base64.getDecoder();
        List<byte[]> tokens = new ArrayList<>(1 << 17);
        int lineStart = 0;
        while (lineStart < content.length) {
            int lineEnd = lineStart;
            while (lineEnd < content.length && content[lineEnd] != '\n') {
                lineEnd++;
            }
            int line = tokens.size() + 1;
            int space = lineStart;
            while (space < lineEnd && content[space] != ' ') {
                space++;
            }
            if (space == lineStart || space == lineEnd) {
                throw malformed(name, line, "expected '<base64 bytes> <rank>'");
            }
            byte[] bytes;
            try {
                ByteBuffer decoded = base64.decode(ByteBuffer.wrap(content, lineStart, space - lineStart));
                bytes = new byte[decoded.remaining()];
                decoded.get(bytes);
            } catch (IllegalArgumentException e) {
                throw malformed(name, line, "invalid base64: " + e.getMessage());
            }
            long rank = parseRank(content, space + 1, lineEnd);
            if (rank < 0) {
                throw malformed(name, line, "rank is not a decimal number");
            }
            if (rank != tokens.size()) {
                throw malformed(name, line, "rank " + rank + " does not equal the line index " + tokens.size());
            }
            tokens.add(bytes);
            lineStart = lineEnd + 1;
        }
        return new Vocabulary(tokens, name);
    }

    private static IOException malformed(String file, int line, String why) {
        return new IOException(file + " line " + line + ": " + why);
    }

    /** Parses ASCII digits in [from, to); a trailing CR is tolerated. Returns -1 when not a number. */
    private static long parseRank(byte[] s, int from, int to) {
        if (to > from && s[to - 1] == '\r') {
            to--;
        }
        if (from == to || to - from > 10) {
            return -1;
        }
        long value = 0;
        for (int i = from; i < to; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return -1;
            }
            value = value * 10 + (s[i] - '0');
        }
        return value;
    }

    int size() {
        return offsets.length - 1;
    }

    /** The rank of bytes {@code b[from, to)}, or {@link #ABSENT}. */
    int rank(byte[] b, int from, int to) {
        int hash = hash(b, from, to);
        int length = to - from;
        for (int slot = hash & slotMask; ; slot = (slot + 1) & slotMask) {
            long entry = slots[slot];
            if (entry == 0) {
                return ABSENT;
            }
            if ((int) (entry >>> 32) == hash) {
                int r = (int) entry - 1;
                int start = offsets[r];
                if (offsets[r + 1] - start == length
                        && Arrays.equals(tokenBytes, start, start + length, b, from, to)) {
                    return r;
                }
            }
        }
    }

    /** The rank of {@code bytes(left) + bytes(right)}, or {@link #ABSENT}. */
    int mergedRank(int left, int right) {
        long key = pairKey(left, right);
        for (int slot = pairSlot(key, pairShift); ; slot = (slot + 1) & (pairSlots.length - 1)) {
            long entry = pairSlots[slot];
            if ((entry & ~RANK_MASK) == key) {
                return (int) (entry & RANK_MASK);
            }
            if (entry == EMPTY_PAIR) {
                return ABSENT;
            }
        }
    }

    private static long pairKey(int left, int right) {
        return (long) left << (2 * RANK_BITS) | (long) right << RANK_BITS;
    }

    /** Fibonacci hashing: the top bits of key × 2^64/φ index a table of 2^(64 - shift) slots. */
    private static int pairSlot(long key, int shift) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
    }

    private static int fibonacciShift(int powerOfTwoLength) {
        return Long.numberOfLeadingZeros(powerOfTwoLength) + 1;
    }

    int singleByteRank(int unsignedByte) {
        return singleByteRanks[unsignedByte];
    }

    int length(int rank) {
        return offsets[rank + 1] - offsets[rank];
    }

    /** Copies rank's bytes into {@code dst} at {@code at}; returns the position after them. */
    int copyBytes(int rank, byte[] dst, int at) {
        int length = length(rank);
        System.arraycopy(tokenBytes, offsets[rank], dst, at, length);
        return at + length;
    }

    byte[] bytes(int rank) {
        return Arrays.copyOfRange(tokenBytes, offsets[rank], offsets[rank + 1]);
    }

    /** FNV-1a over the slice, then a murmur3 finaliser so the low bits used as the slot index are well mixed. */
    private static int hash(byte[] b, int from, int to) {
        int h = 0x811C9DC5;
        for (int i = from; i < to; i++) {
            h = (h ^ (b[i] & 0xFF)) * 0x01000193;
        }
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >>> 16);
    }
}
