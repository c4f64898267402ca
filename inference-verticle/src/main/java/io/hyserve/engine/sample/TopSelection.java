package io.hyserve.engine.sample;

/** Picks the {@code m} largest values (ties: lower id first) with a bounded heap: O(n log m), no full sort. */
final class TopSelection {
    private TopSelection() {}

    /**
     * The ids among {@code candidates[0..count)} with the {@code m} largest {@code values[id]}, best first.
     * Ordering is total (value descending, then id ascending), so the result is deterministic.
     */
    static int[] top(float[] values, int[] candidates, int count, int m) {
        m = Math.min(m, count);
        int[] heap = new int[m]; // min-heap: heap[0] is the worst kept id
        int size = 0;
        for (int i = 0; i < count; i++) {
            int id = candidates == null ? i : candidates[i];
            if (size < m) {
                heap[size] = id;
                siftUp(heap, size++, values);
            } else if (better(id, heap[0], values)) {
                heap[0] = id;
                siftDown(heap, size, values);
            }
        }
        int[] sorted = new int[size];
        for (int i = size - 1; i >= 0; i--) {
            sorted[i] = heap[0];
            heap[0] = heap[--size];
            siftDown(heap, size, values);
        }
        return sorted;
    }

    static boolean better(int a, int b, float[] values) {
        return values[a] > values[b] || (values[a] == values[b] && a < b);
    }

    private static void siftUp(int[] heap, int i, float[] values) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!better(heap[parent], heap[i], values)) {
                return;
            }
            swap(heap, i, parent);
            i = parent;
        }
    }

    private static void siftDown(int[] heap, int size, float[] values) {
        int i = 0;
        while (true) {
            int left = 2 * i + 1;
            if (left >= size) {
                return;
            }
            int worse = left + 1 < size && better(heap[left], heap[left + 1], values) ? left + 1 : left;
            if (!better(heap[i], heap[worse], values)) {
                return;
            }
            swap(heap, i, worse);
            i = worse;
        }
    }

    private static void swap(int[] heap, int a, int b) {
        int t = heap[a];
        heap[a] = heap[b];
        heap[b] = t;
    }
}
