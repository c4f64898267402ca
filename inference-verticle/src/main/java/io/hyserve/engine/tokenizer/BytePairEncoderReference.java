package io.hyserve.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Slow, obvious twin of {@link BytePairEncoder}: after every merge, rescan all adjacent pairs for the lowest
 * rank (leftmost on ties). Quadratic in the piece length, so only tests call it.
 */
final class BytePairEncoderReference {

    private BytePairEncoderReference() {}

    /** The ranks for one piece: the whole piece if it is a vocabulary entry, else {@link #merge}. */
    static List<Integer> encode(Vocabulary vocabulary, byte[] piece) {
        int whole = vocabulary.rank(piece, 0, piece.length);
        return whole != Vocabulary.ABSENT ? List.of(whole) : merge(vocabulary, piece);
    }

    /** Merges from single bytes until no adjacent pair is a vocabulary entry; returns the parts' ranks. */
    static List<Integer> merge(Vocabulary vocabulary, byte[] piece) {
        List<Integer> bounds = new ArrayList<>(); // part k is piece[bounds[k], bounds[k + 1])
        for (int i = 0; i <= piece.length; i++) {
            bounds.add(i);
        }
        while (true) {
            int bestPart = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int k = 0; k + 2 < bounds.size(); k++) {
                int rank = vocabulary.rank(piece, bounds.get(k), bounds.get(k + 2));
                if (rank != Vocabulary.ABSENT && rank < bestRank) {
                    bestRank = rank;
                    bestPart = k;
                }
            }
            if (bestPart < 0) {
                break;
            }
            bounds.remove(bestPart + 1);
        }
        List<Integer> ranks = new ArrayList<>(bounds.size() - 1);
        for (int k = 0; k + 1 < bounds.size(); k++) {
            ranks.add(vocabulary.rank(piece, bounds.get(k), bounds.get(k + 1)));
        }
        return ranks;
    }
}
