package io.hyserve.schemas;

import com.code_intelligence.jazzer.junit.FuzzTest;

/** Any bytes decode to a valid message or a {@link WireException}, never anything else. */
class WireFuzzTest {
    @FuzzTest(maxDuration = "15s")
    void requestsDecodeOrAreRefused(byte[] input) {
        try {
            Wire.decode(input, InferenceRequest.class);
        } catch (WireException expected) {
            // refused with a reason: fine
        }
    }
}
