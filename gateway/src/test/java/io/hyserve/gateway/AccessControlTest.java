package io.hyserve.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class AccessControlTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void keysAreMatchedByNameAndShortOnesAreRefused() {
        ApiKeys keys = ApiKeys.parse(List.of("# comment", "", "alice:sk-alice-0123456789abcdef", "sk-unnamed-0123456789ab"));
        assertThat(keys.enabled()).isTrue();
        assertThat(keys.match("sk-alice-0123456789abcdef")).isEqualTo("alice");
        assertThat(keys.match("sk-unnamed-0123456789ab")).isEqualTo("key-2");
        assertThat(keys.match("sk-alice-0123456789abcdeg")).isNull();
        assertThat(keys.match("")).isNull();
        assertThat(ApiKeys.none().enabled()).isFalse();
        assertThatThrownBy(() -> ApiKeys.parse(List.of("bob:short"))).hasMessageContaining("shorter than 16");
    }

    @Test
    void requestBudgetsRefillOverTimeAndSayWhenToRetry() {
        RateLimits.Ledger ledger = new RateLimits(2, 0, 0).newLedger();
        ledger.admit("k", 10, 0);
        ledger.admit("k", 10, 0);
        assertThatThrownBy(() -> ledger.admit("k", 10, SECOND)).isInstanceOfSatisfying(ApiError.class, e -> {
            assertThat(e.status).isEqualTo(429);
            assertThat(e.retryAfterSeconds).isBetween(28L, 30L);
        });
        ledger.admit("other", 10, SECOND); // keys are independent
        ledger.admit("k", 10, 31 * SECOND); // half a minute refills one request of two per minute
    }

    @Test
    void tokensAreReservedAndTheUnusedPartRefunded() {
        RateLimits.Ledger ledger = new RateLimits(0, 100, 0).newLedger();
        ledger.admit("k", 80, 0);
        assertThatThrownBy(() -> ledger.admit("k", 30, 0)).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.getMessage()).contains("tokens per minute"));
        ledger.release("k", 50); // generated 30 of the 80 reserved
        ledger.admit("k", 60, 0);
        assertThatThrownBy(() -> ledger.admit("k", 101, 0)).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.status).isEqualTo(400));
    }

    @Test
    void concurrentRequestsPerKeyAreCapped() {
        RateLimits.Ledger ledger = new RateLimits(0, 0, 1).newLedger();
        ledger.admit("k", 1, 0);
        assertThatThrownBy(() -> ledger.admit("k", 1, 0)).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.retryAfterSeconds).isEqualTo(1));
        ledger.release("k", 0);
        ledger.admit("k", 1, 0);
    }
}
