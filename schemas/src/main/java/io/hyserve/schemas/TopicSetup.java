package io.hyserve.schemas;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates the deployment's shared topics when they are missing; existing topics are left as they are. */
public final class TopicSetup {
    private static final Logger log = LoggerFactory.getLogger(TopicSetup.class);
    private static final long TIMEOUT_SECONDS = 30;

    private TopicSetup() {}

    /**
     * @param partitions partitions of the requests topic (the most workers that can share the load); the
     *     control, results and heartbeat topics get as many, capped at 16
     * @param replication replication factor of every topic
     */
    public static void ensureShared(Admin admin, Topics topics, int partitions, short replication) {
        int small = Math.min(partitions, 16);
        List<NewTopic> wanted = List.of(
                new NewTopic(topics.requests(), partitions, replication),
                new NewTopic(topics.control(), small, replication),
                new NewTopic(topics.results(), small, replication).configs(Map.of(
                        TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT + ","
                                + TopicConfig.CLEANUP_POLICY_DELETE,
                        TopicConfig.RETENTION_MS_CONFIG, Long.toString(TimeUnit.DAYS.toMillis(7)))),
                new NewTopic(topics.heartbeats(), 1, replication).configs(Map.of(
                        TopicConfig.RETENTION_MS_CONFIG, Long.toString(TimeUnit.HOURS.toMillis(1)))),
                new NewTopic(topics.deadLetters(), 1, replication));
        ensure(admin, wanted);
    }

    /** The events topic of one gateway instance: short retention, since nobody replays a stream. */
    public static void ensureEvents(Admin admin, Topics topics, String gatewayId, int partitions, short replication) {
        ensure(admin, List.of(new NewTopic(topics.events(gatewayId), partitions, replication).configs(Map.of(
                TopicConfig.RETENTION_MS_CONFIG, Long.toString(TimeUnit.HOURS.toMillis(1))))));
    }

    private static void ensure(Admin admin, List<NewTopic> wanted) {
        try {
            Set<String> existing = admin.listTopics().names().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            List<NewTopic> missing = new ArrayList<>();
            for (NewTopic topic : wanted) {
                if (!existing.contains(topic.name())) {
                    missing.add(topic);
                }
            }
            if (missing.isEmpty()) {
                return;
            }
            for (var entry : admin.createTopics(missing).values().entrySet()) {
                try {
                    entry.getValue().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    log.atInfo().setMessage("created topic").addKeyValue("topic", entry.getKey()).log();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create Kafka topics: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating Kafka topics", e);
        }
    }
}
