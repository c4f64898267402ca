package io.hyserve.devicecheck;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * What {@code device-check.sh} runs on the GPU machine, which has no JDK, Maven or network: every kernel against
 * its CPU twin and the golden-logits tests on the CUDA backend (and on the CPU backends beside it), one line per
 * test. Exit 0 when every test passed, 1 when one failed, 2 when any was skipped (on that machine a skip means
 * the GPU was not usable, and the note must not read it as a pass).
 */
public final class DeviceCheck {
    static final List<String> TEST_CLASSES = List.of("io.hyserve.kernels.KernelsOnDeviceTest",
            "io.hyserve.kernels.ForwardKernelsOnDeviceTest", "io.hyserve.kernels.FusedMoeOnDeviceTest",
            "io.hyserve.kernels.CudnnAttentionTest", "io.hyserve.kernels.CublasGemmTest",
            "io.hyserve.engine.model.HunyuanModelGoldenTest");

    private DeviceCheck() {}

    public static void main(String[] args) {
        System.exit(run(System.out));
    }

    static int run(PrintStream out) {
        AtomicInteger passed = new AtomicInteger();
        List<String> failed = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        long start = System.nanoTime();
        Launcher launcher = LauncherFactory.create();
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request();
        TEST_CLASSES.forEach(name -> request.selectors(selectClass(name)));
        launcher.execute(request.build(), new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier test, String reason) {
                skipped.add(test.getDisplayName());
                out.printf("SKIP %s: %s%n", test.getDisplayName(), reason);
            }

            @Override
            public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (!test.isTest()) {
                    return;
                }
                String name = test.getLegacyReportingName();
                switch (result.getStatus()) {
                    case SUCCESSFUL -> {
                        passed.incrementAndGet();
                        out.printf("PASS %s%n", name);
                    }
                    case ABORTED -> {
                        skipped.add(name);
                        out.printf("SKIP %s: %s%n", name, result.getThrowable().map(Throwable::getMessage)
                                .flatMap(message -> message.lines().findFirst()).orElse(""));
                    }
                    case FAILED -> {
                        failed.add(name);
                        out.printf("FAIL %s: %s%n", name, result.getThrowable().map(Throwable::toString).orElse(""));
                    }
                }
            }
        });
        out.printf("device check: %d passed, %d failed, %d skipped in %.1f s%n", passed.get(), failed.size(),
                skipped.size(), (System.nanoTime() - start) / 1e9);
        return !failed.isEmpty() ? 1 : !skipped.isEmpty() ? 2 : 0;
    }
}
