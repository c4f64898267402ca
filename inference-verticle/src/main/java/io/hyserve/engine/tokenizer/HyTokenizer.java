package io.hyserve.engine.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * Hunyuan-Large's tokenizer (tiktoken byte-level BPE, spec §7): 127957 mergeable ranks from
 * {@code hy.tiktoken} followed by 209 special tokens, 128166 ids in all. The model's embedding has 128512
 * rows; ids 128166..128511 have no token and are rejected.
 *
 * <p>{@link #encode} matches HF {@code tokenizer.encode(text, add_special_tokens=False)}: NFC, special-token
 * text anywhere becomes its id, the rest is pre-tokenised and byte-pair merged. Immutable and thread-safe.
 */
public final class HyTokenizer {

    /** The vocabulary file inside a model directory. */
    public static final String VOCABULARY_FILE = "hy.tiktoken";

    private static final int FIRST_SPECIAL_ID = 127957;

    private final Vocabulary vocabulary;
    private final SpecialTokens specials;

    HyTokenizer(Vocabulary vocabulary, SpecialTokens specials) {
        if (specials.firstId() != vocabulary.size()) {
            throw new IllegalArgumentException("special tokens must start right after the "
                    + vocabulary.size() + " mergeable ranks, not at " + specials.firstId());
        }
        this.vocabulary = vocabulary;
        this.specials = specials;
    }

    /**
     * Loads {@code dir/hy.tiktoken}.
     *
     * @throws java.nio.file.NoSuchFileException if the file is missing
     * @throws IOException if it cannot be read, or a line is malformed (the message names file and line)
     */
    public static HyTokenizer load(Path dir) throws IOException {
        Path file = dir.resolve(VOCABULARY_FILE);
        Vocabulary vocabulary = Vocabulary.read(file);
        if (vocabulary.size() != FIRST_SPECIAL_ID) {
            throw new IOException(file + ": expected " + FIRST_SPECIAL_ID + " ranks (Hunyuan's special tokens start at "
                    + FIRST_SPECIAL_ID + "), found " + vocabulary.size());
        }
        return new HyTokenizer(vocabulary, new SpecialTokens(FIRST_SPECIAL_ID, SpecialTokens.hunyuanSurfaces()));
    }

    /** Number of ids with a token: mergeable ranks plus special tokens (128166). */
    public int size() {
        return specials.endId();
    }

    /**
     * Whether {@code id} is a special token ({@code <|endoftext|>} 127957 … {@code <|extra_203|>} 128165).
     *
     * @throws IllegalArgumentException if {@code id} has no token
     */
    public boolean isSpecial(int id) {
        checkId(id);
        return specials.contains(id);
    }

    /** The id of a special token's exact surface text, e.g. {@code "<|eos|>"} → 127960. */
    public OptionalInt specialTokenId(String surface) {
        int id = specials.id(surface);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * A copy of the bytes {@code id} stands for; a special token's are its UTF-8 surface text.
     *
     * @throws IllegalArgumentException if {@code id} has no token
     */
    public byte[] tokenBytes(int id) {
        checkId(id);
        return specials.contains(id) ? specials.surfaceBytes(id).clone() : vocabulary.bytes(id);
    }

    /**
     * Token ids for {@code text}, without BOS/EOS (HF {@code encode(text, add_special_tokens=False)}). Special
     * token text anywhere in {@code text}, user content included, becomes the special id; untrusted content
     * goes through {@link #encode(List)} instead.
     */
    public int[] encode(String text) {
        return encode(normalise(text), List.of());
    }

    /**
     * Ids for the concatenation of {@code parts}, as {@link #encode(String)} would give, except that special
     * token text lying wholly or partly inside a literal part stays ordinary text. Ordinary text is byte-pair
     * encoded across part boundaries, so with no special-token text in literal parts the ids are exactly those
     * of the concatenated string (each part is NFC-normalised on its own).
     */
    public int[] encode(List<TextPart> parts) {
        StringBuilder text = new StringBuilder();
        List<int[]> literalSpans = new ArrayList<>();
        for (TextPart part : parts) {
            String normalised = normalise(part.text());
            if (part.literal() && !normalised.isEmpty()) {
                literalSpans.add(new int[] {text.length(), text.length() + normalised.length()});
            }
            text.append(normalised);
        }
        return encode(text.toString(), literalSpans);
    }

    private int[] encode(String normalised, List<int[]> literalSpans) {
        Encoding encoding = new Encoding(normalised.length());
        int from = 0;
        int search = 0;
        for (SpecialTokens.Match m = specials.find(normalised, 0); m != null; m = specials.find(normalised, search)) {
            if (overlapsAny(m.start(), m.end(), literalSpans)) {
                search = m.start() + 1;
                continue;
            }
            encoding.ordinary(normalised, from, m.start());
            encoding.ids.add(m.id());
            from = m.end();
            search = from;
        }
        encoding.ordinary(normalised, from, normalised.length());
        return encoding.ids.toArray();
    }

    private static boolean overlapsAny(int start, int end, List<int[]> spans) {
        for (int[] span : spans) {
            if (start < span[1] && span[0] < end) {
                return true;
            }
        }
        return false;
    }

    /**
     * The text of {@code ids}: their bytes concatenated (special tokens as their surface text, or dropped when
     * {@code skipSpecialTokens}) and decoded as UTF-8 with one U+FFFD per maximal invalid subsequence, like
     * Python's {@code errors="replace"}.
     *
     * @throws IllegalArgumentException if an id is negative or {@code >= size()}
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        int total = 0;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= size()) {
                throw new IllegalArgumentException("ids[" + i + "]: " + noTokenMessage(ids[i]));
            }
            if (!(skipSpecialTokens && specials.contains(ids[i]))) {
                total += byteLength(ids[i]);
            }
        }
        byte[] bytes = new byte[total];
        int at = 0;
        for (int id : ids) {
            if (!(skipSpecialTokens && specials.contains(id))) {
                at = copyBytes(id, bytes, at);
            }
        }
        return Utf8Decoder.decode(bytes, 0, total);
    }

    /** A new incremental decoder for one generated sequence; see {@link StreamingDetokenizer}. */
    public StreamingDetokenizer streamingDetokenizer(boolean skipSpecialTokens) {
        return new StreamingDetokenizer(this, skipSpecialTokens);
    }

    /**
     * The pre-tokenisation pieces of {@code text}, each special token as its own piece, with ordinary
     * segments split by {@code splitter} ({@link PreTokenizer#pieces} or its regex twin). For tests.
     */
    List<String> pieces(String text, Function<String, List<String>> splitter) {
        String normalised = normalise(text);
        List<String> pieces = new ArrayList<>();
        int from = 0;
        for (SpecialTokens.Match m = specials.find(normalised, 0); m != null; m = specials.find(normalised, from)) {
            pieces.addAll(splitter.apply(normalised.substring(from, m.start())));
            pieces.add(specials.surface(m.id()));
            from = m.end();
        }
        pieces.addAll(splitter.apply(normalised.substring(from)));
        return pieces;
    }

    Vocabulary vocabulary() {
        return vocabulary;
    }

    void checkId(int id) {
        if (id < 0 || id >= size()) {
            throw new IllegalArgumentException(noTokenMessage(id));
        }
    }

    int byteLength(int id) {
        return specials.contains(id) ? specials.surfaceBytes(id).length : vocabulary.length(id);
    }

    /** Copies {@code id}'s bytes into {@code dst} at {@code at}; returns the position after them. */
    int copyBytes(int id, byte[] dst, int at) {
        if (specials.contains(id)) {
            byte[] surface = specials.surfaceBytes(id);
            System.arraycopy(surface, 0, dst, at, surface.length);
            return at + surface.length;
        }
        return vocabulary.copyBytes(id, dst, at);
    }

    private String noTokenMessage(int id) {
        return "token id " + id + " has no token: the tokenizer's ids are 0.." + (size() - 1)
                + " (the model's embedding may have more rows than the tokenizer has tokens)";
    }

    /**
     * NFC, then each unpaired surrogate becomes U+FFFD: BPE needs valid UTF-8, and tiktoken's Python wrapper
     * makes the same substitution rather than failing.
     */
    static String normalise(String text) {
        String nfc = Normalizer.isNormalized(text, Normalizer.Form.NFC)
                ? text
                : Normalizer.normalize(text, Normalizer.Form.NFC);
        StringBuilder repaired = null;
        for (int i = 0; i < nfc.length(); i++) {
            char c = nfc.charAt(i);
            if (!Character.isSurrogate(c)) {
                continue;
            }
            if (Character.isHighSurrogate(c) && i + 1 < nfc.length() && Character.isLowSurrogate(nfc.charAt(i + 1))) {
                i++;
                continue;
            }
            if (repaired == null) {
                repaired = new StringBuilder(nfc);
            }
            repaired.setCharAt(i, Utf8Decoder.REPLACEMENT);
        }
        return repaired == null ? nfc : repaired.toString();
    }

    /** Per-call scratch (piece bytes, BPE arrays) and output, so encode allocates per call, not per piece. */
    private final class Encoding {
        final IntList ids;
        final BytePairEncoder bytePairEncoder = new BytePairEncoder(vocabulary);
        byte[] pieceBytes = new byte[64];

        Encoding(int textLength) {
            ids = new IntList(textLength / 3 + 16);
        }

        /** Encodes ordinary text {@code s[from, to)}; {@code to} is end of input for the pre-tokeniser. */
        void ordinary(String s, int from, int to) {
            for (int start = from; start < to; ) {
                int end = PreTokenizer.pieceEnd(s, start, to);
                int length = utf8(s, start, end);
                if (length == 1) {
                    ids.add(vocabulary.singleByteRank(pieceBytes[0] & 0xFF));
                } else {
                    bytePairEncoder.encode(pieceBytes, length, ids);
                }
                start = end;
            }
        }

        /** UTF-8 of {@code s[from, to)} (well-formed UTF-16) into {@code pieceBytes}; returns the byte count. */
        private int utf8(String s, int from, int to) {
            if (pieceBytes.length < 3 * (to - from)) {
                pieceBytes = new byte[Math.max(3 * (to - from), 2 * pieceBytes.length)];
            }
            byte[] b = pieceBytes;
            int n = 0;
            for (int i = from; i < to; i++) {
                char c = s.charAt(i);
                if (c < 0x80) {
                    b[n++] = (byte) c;
                } else if (c < 0x800) {
                    b[n++] = (byte) (0xC0 | c >> 6);
                    b[n++] = (byte) (0x80 | c & 0x3F);
                } else if (Character.isHighSurrogate(c)) {
                    int cp = Character.toCodePoint(c, s.charAt(++i));
                    b[n++] = (byte) (0xF0 | cp >> 18);
                    b[n++] = (byte) (0x80 | cp >> 12 & 0x3F);
                    b[n++] = (byte) (0x80 | cp >> 6 & 0x3F);
                    b[n++] = (byte) (0x80 | cp & 0x3F);
                } else {
                    b[n++] = (byte) (0xE0 | c >> 12);
                    b[n++] = (byte) (0x80 | c >> 6 & 0x3F);
                    b[n++] = (byte) (0x80 | c & 0x3F);
                }
            }
            return n;
        }
    }
}
