package io.hyserve.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hyserve.schemas.InferenceRequest.Kind;
import io.hyserve.schemas.InferenceRequest.Message;
import io.hyserve.schemas.InferenceRequest.PromptInput;
import io.hyserve.schemas.InferenceRequest.ReplyTo;
import io.hyserve.schemas.InferenceRequest.Sampling;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WireTest {
    private static final String VALID_STREAM = """
            {"schema_version":1,"request_id":"r-1","kind":"stream","prompt":{"token_ids":[1,2,3]},
             "reply_to":{"topic":"hyserve.events.gw-1"},"deadline_ms":1700000000000}""";

    @Test
    void everyMessageTypeRoundTripsThroughItsSchema() throws WireException {
        Sampling sampling = new Sampling(0.7, 0.9, 20, 0.05, 1.05, 0.5, -0.5, 42L, 16, List.of("\n\n"), List.of(7),
                false, 2, true, Map.of("100", -100.0, "7", 2.5));
        InferenceRequest request = new InferenceRequest(1, "r-1", Kind.STREAM, null, "hunyuan",
                PromptInput.ofMessages(List.of(new Message("user", "hi <|extra_0|>")), false), sampling,
                new ReplyTo("hyserve.events.gw-1"), 1_700_000_000_000L, 256, 1L,
                Map.of("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        assertThat(roundTrip(request, InferenceRequest.class)).isEqualTo(request);

        List<StreamEvent> events = List.of(
                StreamEvent.started("r-1", 0, "worker-a", 12),
                StreamEvent.delta("r-1", 1, List.of(5, 6), "海水",
                        List.of(new Logprob(5, -0.25, List.of(new Logprob.Alternative(5, -0.25))))),
                StreamEvent.finish("r-1", 2, "length", "", new Usage(12, 2, 8)),
                StreamEvent.failure("r-1", 3, ErrorCode.WORKER_LOST, "worker-a stopped"));
        for (StreamEvent event : events) {
            assertThat(roundTrip(event, StreamEvent.class)).isEqualTo(event);
        }
        for (ControlMessage message : List.of(ControlMessage.cancel("r-1", "client disconnected"),
                ControlMessage.credit("r-1", 64))) {
            assertThat(roundTrip(message, ControlMessage.class)).isEqualTo(message);
        }
        JobStatus done = JobStatus.completed("job-1", "r-1", 5, "worker-a",
                new JobStatus.Result("text", List.of(1), "stop", new Usage(3, 1, 0), null));
        assertThat(roundTrip(done, JobStatus.class)).isEqualTo(done);
        assertThat(roundTrip(JobStatus.queued("job-1", "r-1", 4), JobStatus.class).terminal()).isFalse();
        WorkerHeartbeat heartbeat = new WorkerHeartbeat(1, "worker-a", WorkerHeartbeat.State.READY, "hunyuan", 4096,
                10, 1000, 3, 0);
        assertThat(roundTrip(heartbeat, WorkerHeartbeat.class)).isEqualTo(heartbeat);
    }

    @Test
    void wireNamesAreSnakeCaseAndNullsAreLeftOut() {
        String json = new String(Wire.encode(StreamEvent.failure("r-1", 3, ErrorCode.STREAM_OVERFLOW, "full")),
                StandardCharsets.UTF_8);
        assertThat(json).isEqualTo(
                "{\"type\":\"error\",\"schema_version\":1,\"request_id\":\"r-1\",\"seq\":3,\"code\":\"stream_overflow\",\"message\":\"full\"}");
        String request = new String(Wire.encode(new InferenceRequest(1, "r-2", Kind.JOB, "job-2", null,
                PromptInput.ofText("hi"), null, null, null, null, null, null)), StandardCharsets.UTF_8);
        assertThat(request).isEqualTo(
                "{\"schema_version\":1,\"request_id\":\"r-2\",\"kind\":\"job\",\"job_id\":\"job-2\",\"prompt\":{\"text\":\"hi\"}}");
    }

    @Test
    void aValidRequestDecodes() throws WireException {
        InferenceRequest request = Wire.decode(VALID_STREAM, InferenceRequest.class);
        assertThat(request.prompt().tokenIds()).containsExactly(1, 2, 3);
        assertThat(request.kind()).isEqualTo(Kind.STREAM);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            temperature below 0         | "prompt":{"text":"a"},"sampling":{"temperature":-1}           | /sampling/temperature
            top_p above 1               | "prompt":{"text":"a"},"sampling":{"top_p":1.5}                | /sampling/top_p
            top_p of 0                  | "prompt":{"text":"a"},"sampling":{"top_p":0}                  | /sampling/top_p
            logprobs above 20           | "prompt":{"text":"a"},"sampling":{"logprobs":21}              | /sampling/logprobs
            wrong type                  | "prompt":{"text":"a"},"sampling":{"max_tokens":"ten"}         | /sampling/max_tokens
            logit_bias key not an id    | "prompt":{"text":"a"},"sampling":{"logit_bias":{"x":1}}       | /sampling/logit_bias
            logit_bias above 100        | "prompt":{"text":"a"},"sampling":{"logit_bias":{"5":101}}     | /sampling/logit_bias/5
            two prompt forms            | "prompt":{"text":"a","token_ids":[1]}                         | /prompt
            no prompt form              | "prompt":{}                                                   | /prompt
            negative token id           | "prompt":{"token_ids":[-1]}                                   | /prompt/token_ids/0
            unknown role                | "prompt":{"messages":[{"role":"tool","content":"x"}]}         | /prompt/messages/0/role
            unknown field               | "prompt":{"text":"a"},"colour":"red"                          | /
            """)
    void invalidRequestsNameTheField(String name, String body, String location) {
        String json = "{\"schema_version\":1,\"request_id\":\"r-1\",\"kind\":\"job\",\"job_id\":\"j\"," + body + "}";
        assertThatThrownBy(() -> Wire.decode(json, InferenceRequest.class))
                .isInstanceOf(WireException.class)
                .hasMessageStartingWith("invalid InferenceRequest: ")
                .hasMessageContaining(location);
    }

    @Test
    void kindDecidesWhatIsRequired() {
        String job = "{\"schema_version\":1,\"request_id\":\"r\",\"kind\":\"job\",\"prompt\":{\"text\":\"a\"}}";
        assertThatThrownBy(() -> Wire.decode(job, InferenceRequest.class)).hasMessageContaining("job_id");
        String stream = "{\"schema_version\":1,\"request_id\":\"r\",\"kind\":\"stream\",\"prompt\":{\"text\":\"a\"}}";
        assertThatThrownBy(() -> Wire.decode(stream, InferenceRequest.class))
                .hasMessageContaining("reply_to").hasMessageContaining("deadline_ms");
        String version = VALID_STREAM.replace("\"schema_version\":1", "\"schema_version\":2");
        assertThatThrownBy(() -> Wire.decode(version, InferenceRequest.class)).hasMessageContaining("schema_version");
    }

    @Test
    void malformedBytesAreRefusedWithAReason() {
        assertThatThrownBy(() -> Wire.decode("{\"schema_version\":1,", InferenceRequest.class))
                .isInstanceOf(WireException.class).hasMessageStartingWith("not valid JSON");
        assertThatThrownBy(() -> Wire.decode(new byte[0], InferenceRequest.class))
                .isInstanceOf(WireException.class).hasMessageStartingWith("not valid JSON");
        byte[] badUtf8 = "{\"schema_version\":1,\"request_id\":\"r\",\"kind\":\"job\",\"job_id\":\"j\",\"prompt\":{\"text\":\"\u00ff\"}}"
                .getBytes(StandardCharsets.ISO_8859_1);
        assertThatThrownBy(() -> Wire.decode(badUtf8, InferenceRequest.class))
                .isInstanceOf(WireException.class).hasMessageContaining("UTF-8");
        String duplicate = VALID_STREAM.replace("\"kind\":\"stream\"", "\"kind\":\"stream\",\"kind\":\"job\"");
        assertThatThrownBy(() -> Wire.decode(duplicate, InferenceRequest.class))
                .isInstanceOf(WireException.class).hasMessageContaining("Duplicate Object property \"kind\"");
        assertThatThrownBy(() -> Wire.decode("[1,2]", StreamEvent.class))
                .isInstanceOf(WireException.class).hasMessageStartingWith("invalid StreamEvent");
    }

    @Test
    void numbersBeyondLongRangeAreRefusedNotThrown() {
        // Found by WireFuzzTest: the schema validator threw converting this to a long for "minimum".
        String huge = "{\"schema_version\":1,\"request_id\":\"r\",\"kind\":\"job\",\"job_id\":\"j\","
                + "\"prompt\":{\"token_ids\":[1,88888888888888888888888888888888888.882,3]}}";
        assertThatThrownBy(() -> Wire.decode(huge, InferenceRequest.class)).isInstanceOf(WireException.class)
                .hasMessageContaining("out of range");
    }

    @Test
    void eventsAndControlMessagesAreCheckedPerType() {
        assertThatThrownBy(() -> Wire.decode(
                "{\"schema_version\":1,\"type\":\"delta\",\"request_id\":\"r\",\"seq\":0,\"text\":\"x\"}",
                StreamEvent.class)).hasMessageContaining("token_ids");
        assertThatThrownBy(() -> Wire.decode(
                "{\"schema_version\":1,\"type\":\"error\",\"request_id\":\"r\",\"seq\":0,\"code\":\"oops\",\"message\":\"x\"}",
                StreamEvent.class)).hasMessageContaining("/code");
        assertThatThrownBy(() -> Wire.decode(
                "{\"schema_version\":1,\"type\":\"credit\",\"request_id\":\"r\",\"events\":0}",
                ControlMessage.class)).hasMessageContaining("/events");
        assertThatThrownBy(() -> Wire.decode(
                "{\"schema_version\":1,\"job_id\":\"j\",\"status\":\"completed\",\"updated_ms\":1}",
                JobStatus.class)).hasMessageContaining("result");
    }

    @Test
    void onlyMessageTypesHaveSchemas() {
        assertThatThrownBy(() -> Wire.encode("text")).isInstanceOf(IllegalArgumentException.class);
        assertThat(Wire.class.getResource(Wire.schemaResource(InferenceRequest.class))).isNotNull();
    }

    private static <T> T roundTrip(Object message, Class<T> type) throws WireException {
        return Wire.decode(Wire.encode(message), type);
    }
}
