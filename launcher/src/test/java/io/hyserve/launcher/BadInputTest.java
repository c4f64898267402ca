package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.schemas.Topics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every kind of bad input gets its status and an OpenAI error body, or a dead letter, and serving goes on. */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = ServePipelineTest.MODEL;

    @TempDir
    static Path data;
    static ServeSystem system;

    @BeforeAll
    static void start() throws Exception {
        system = ServeSystem.start(ServePipelineTest.settings(data));
        ServePipelineTest.awaitReady(system);
    }

    @AfterAll
    static void stop() {
        if (system != null) {
            system.close();
        }
    }

    private static HttpResponse<String> post(String path, byte[] body) throws Exception {
        return ServePipelineTest.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + system.port() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            malformed JSON              | /v1/completions      | {"model":                                                          | 400 | not valid JSON
            not an object               | /v1/completions      | [1,2]                                                              | 400 | must be a JSON object
            empty body                  | /v1/chat/completions | ``                                                                 | 400 | empty
            wrong type                  | /v1/completions      | {"model":"$M","prompt":"a","temperature":"hot"}                    | 400 | temperature must be a number
            temperature below 0         | /v1/completions      | {"model":"$M","prompt":"a","temperature":-1}                       | 400 | temperature must be >= 0
            top_p above 1               | /v1/completions      | {"model":"$M","prompt":"a","top_p":1.5}                            | 400 | top_p must be in (0, 1]
            max_tokens over the limit   | /v1/completions      | {"model":"$M","prompt":"a","max_tokens":1000}                      | 400 | at most 512
            max_tokens of 0             | /v1/completions      | {"model":"$M","prompt":"a","max_tokens":0}                         | 400 | at least 1
            beyond the context          | /v1/completions      | {"model":"$M","prompt":$LONG,"max_tokens":200}                     | 400 | maximum context length is 4096 tokens
            unknown model               | /v1/completions      | {"model":"gpt-4","prompt":"a"}                                     | 404 | does not exist
            missing model               | /v1/completions      | {"prompt":"a"}                                                     | 400 | model is required
            missing messages            | /v1/chat/completions | {"model":"$M"}                                                     | 400 | messages is required
            unsupported role            | /v1/chat/completions | {"model":"$M","messages":[{"role":"tool","content":"x"}]}          | 400 | not supported
            n of 0                      | /v1/completions      | {"model":"$M","prompt":"a","n":0}                                  | 400 | n must be between 1
            logit_bias key not an id    | /v1/completions      | {"model":"$M","prompt":"a","logit_bias":{"x":1}}                   | 400 | logit_bias keys must be token ids
            logit_bias beyond vocab     | /v1/completions      | {"model":"$M","prompt":"a","logit_bias":{"999999":1}}              | 400 | outside the vocabulary
            token id beyond vocab       | /v1/completions      | {"model":"$M","prompt":[1,999999]}                                 | 400 | outside the vocabulary
            stream_options alone        | /v1/completions      | {"model":"$M","prompt":"a","stream_options":{"include_usage":true}} | 400 | only allowed when stream is true
            unknown endpoint            | /v1/embeddings       | {"model":"$M","input":"a"}                                         | 404 | not an endpoint
            job without type            | /v1/jobs             | {"request":{"model":"$M","prompt":"a"}}                            | 400 | type must be
            """)
    void badRequestsGetTheirStatusAndAnOpenAiError(String name, String path, String body, int status, String message)
            throws Exception {
        String longPrompt = IntStream.range(0, 3990).mapToObj(i -> "100").collect(Collectors.joining(",", "[", "]"));
        String json = body.replace("$M", MODEL).replace("$LONG", longPrompt);
        HttpResponse<String> response = post(path, json.getBytes(StandardCharsets.UTF_8));
        assertThat(response.statusCode()).isEqualTo(status);
        JsonNode error = JSON.readTree(response.body()).get("error");
        assertThat(error.get("message").asText()).contains(message);
        assertThat(error.has("type")).isTrue();
        assertThat(error.has("param")).isTrue();
        assertThat(error.has("code")).isTrue();
    }

    @Test
    void oversizedBodiesAndInvalidUtf8AreRefused() throws Exception {
        byte[] big = ("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + "a".repeat(70 * 1024) + "\"}")
                .getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> tooLarge = post("/v1/completions", big);
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(tooLarge.body()).get("error").get("message").asText()).contains("larger than");

        byte[] prefix = ("{\"model\":\"" + MODEL + "\",\"prompt\":\"").getBytes(StandardCharsets.UTF_8);
        byte[] invalid = new byte[prefix.length + 4];
        System.arraycopy(prefix, 0, invalid, 0, prefix.length);
        invalid[prefix.length] = (byte) 0xC3; // a lead byte followed by ASCII
        invalid[prefix.length + 1] = 'x';
        invalid[prefix.length + 2] = '"';
        invalid[prefix.length + 3] = '}';
        HttpResponse<String> badUtf8 = post("/v1/completions", invalid);
        assertThat(badUtf8.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(badUtf8.body()).get("error").get("message").asText()).contains("UTF-8");
        assertStillServing();
    }

    @Test
    void invalidKafkaRecordsGoToTheDeadLetterTopicWithTheirReason() throws Exception {
        Topics topics = Topics.defaults();
        Map<String, Object> kafka = Map.of("bootstrap.servers", system.bootstrapServers());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka, new StringSerializer(),
                new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topics.requests(), "bad-1", "{not json".getBytes(StandardCharsets.UTF_8)));
            producer.send(new ProducerRecord<>(topics.requests(), "bad-2", """
                    {"schema_version":1,"request_id":"bad-2","kind":"job","job_id":"bad-2","prompt":{"text":"a"},
                     "sampling":{"temperature":-1}}""".getBytes(StandardCharsets.UTF_8)));
            producer.send(new ProducerRecord<>(topics.requests(), "bad-3", null));
            producer.send(new ProducerRecord<>(topics.events(system.gateway().gatewayId()), "bad-4",
                    "{\"schema_version\":1,\"type\":\"delta\"}".getBytes(StandardCharsets.UTF_8)));
        }
        List<ConsumerRecord<String, byte[]>> letters = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(kafka, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(topics.deadLetters(), 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (letters.size() < 4 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(100)).forEach(letters::add);
            }
        }
        assertThat(letters).extracting(ConsumerRecord::key).containsExactlyInAnyOrder("bad-1", "bad-2", "bad-3", "bad-4");
        for (ConsumerRecord<String, byte[]> letter : letters) {
            String reason = new String(letter.headers().lastHeader(Topics.HEADER_ERROR).value(), StandardCharsets.UTF_8);
            String source = new String(letter.headers().lastHeader(Topics.HEADER_SOURCE).value(), StandardCharsets.UTF_8);
            switch (letter.key()) {
                case "bad-1" -> assertThat(reason).startsWith("not valid JSON");
                case "bad-2" -> assertThat(reason).contains("/sampling/temperature");
                case "bad-3" -> assertThat(reason).contains("no value");
                default -> assertThat(reason).contains("token_ids");
            }
            assertThat(source).contains("@");
        }
        assertStillServing();
    }

    private static void assertStillServing() throws Exception {
        HttpResponse<String> ok = post("/v1/completions", ("{\"model\":\"" + MODEL
                + "\",\"prompt\":\"still there?\",\"max_tokens\":3}").getBytes(StandardCharsets.UTF_8));
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(ok.body()).get("usage").get("completion_tokens").asInt()).isBetween(1, 3);
    }
}
