package io.hyserve.engine.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Tokenizer throughput in MB/s (10^6 bytes of UTF-8 text per second) on English prose, Chinese prose and
 * source code, each a deterministic ~512 KB corpus generated here.
 *
 * <p>Run from the project folder: {@code ./mvnw -Pjmh -pl inference-verticle -am package -DskipTests && java
 * -jar inference-verticle/target/benchmarks.jar TokenizerBench -f 1 -wi 2 -w 2s -i 3 -r 2s}. Read the {@code :megabytes} rows:
 * their "ops/s" is MB/s of text (encode input, decode output). The primary row is whole-corpus calls per
 * second. Encoding is single-threaded; one core is the roofline.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class TokenizerBench {

    /** One corpus, its ids, and its size in MB. */
    @State(Scope.Benchmark)
    public static class Corpus {

        @Param({"english", "chinese", "code"})
        public String kind;

        HyTokenizer tokenizer;
        String text;
        int[] ids;
        double megabytes;

        @Setup(Level.Trial)
        public void load() throws IOException {
            // The bundled tokenizer when run from the project folder; -Dhyserve.tokenizer=DIR for another.
            tokenizer = HyTokenizer.load(Path.of(System.getProperty("hyserve.tokenizer", "models/tokenizer")));
            text = switch (kind) {
                case "english" -> corpus(ENGLISH, " ", 1);
                case "chinese" -> corpus(CHINESE, "", 2);
                case "code" -> corpus(CODE, "\n", 3);
                default -> throw new IllegalArgumentException(kind);
            };
            ids = tokenizer.encode(text);
            megabytes = text.getBytes(StandardCharsets.UTF_8).length / 1e6;
            if (!tokenizer.decode(ids, false).equals(text)) {
                throw new IllegalStateException("corpus " + kind + " does not round-trip");
            }
            System.out.printf("%n%s corpus: %.3f MB UTF-8, %d tokens, %.2f bytes/token%n",
                    kind, megabytes, ids.length, megabytes * 1e6 / ids.length);
        }
    }

    /** MB of text processed, reported per second by JMH. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Throughput {
        public double megabytes;
    }

    @Benchmark
    public int[] encode(Corpus corpus, Throughput throughput) {
        throughput.megabytes += corpus.megabytes;
        return corpus.tokenizer.encode(corpus.text);
    }

    @Benchmark
    public String decode(Corpus corpus, Throughput throughput) {
        throughput.megabytes += corpus.megabytes;
        return corpus.tokenizer.decode(corpus.ids, false);
    }

    @Benchmark
    public int streamingDecode(Corpus corpus, Throughput throughput) {
        throughput.megabytes += corpus.megabytes;
        StreamingDetokenizer stream = corpus.tokenizer.streamingDetokenizer(false);
        int chars = 0;
        for (int id : corpus.ids) {
            chars += stream.next(id).length();
        }
        return chars + stream.finish().length();
    }

    /** Sentences drawn at random (fixed seed), paragraphs of 3–8, until the corpus reaches 512 KB. */
    static String corpus(List<String> sentences, String separator, long seed) {
        Random random = new Random(seed);
        StringBuilder out = new StringBuilder();
        while (out.toString().getBytes(StandardCharsets.UTF_8).length < 512 * 1024) {
            int paragraph = 3 + random.nextInt(6);
            for (int i = 0; i < paragraph; i++) {
                out.append(sentences.get(random.nextInt(sentences.size()))).append(separator);
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static final List<String> ENGLISH = List.of(
            "The committee postponed its decision until the engineers could explain why the bridge had cracked.",
            "She hadn't expected the old lighthouse keeper to remember her name after twenty-three years.",
            "Most of the city's water comes from a reservoir about 40 miles to the north.",
            "If you're planning to visit in October, bring a raincoat and comfortable walking shoes.",
            "The results, published on Tuesday, suggest that the drug reduces symptoms in roughly 60% of patients.",
            "He spent the afternoon repairing the fence, while his daughter read aloud from a book about whales.",
            "Prices rose by 3.2 percent in the first quarter, the fastest increase since 2008.",
            "\"We'll need more time,\" the director admitted, \"but the early data look promising.\"",
            "Nobody in the village could say exactly when the mill had stopped turning.",
            "The new library opens at nine o'clock on weekdays and at ten on Saturdays.",
            "Although the forecast promised sunshine, a cold wind swept in from the sea by noon.",
            "Researchers at the university have built a sensor that detects leaks in gas pipelines.",
            "They walked along the river until the path disappeared into a thicket of willows.",
            "Her grandfather kept every letter he ever received, sorted by year, in a wooden chest.",
            "The software update fixes several bugs and improves battery life on older devices.",
            "In the end, the team won by a single point, thanks to a free throw with two seconds left.");

    private static final List<String> CHINESE = List.of(
            "今天早上下了一场大雨，街道上的行人都撑着伞匆匆赶路。",
            "这家餐厅的招牌菜是红烧肉，每天中午都有很多人排队。",
            "随着人工智能技术的快速发展，越来越多的企业开始使用大模型来提高工作效率。",
            "他在图书馆里待了整整一个下午，终于找到了那本绝版的历史书。",
            "我们计划在明年春天去云南旅游，看看大理的洱海和丽江的古城。",
            "据统计，去年全国粮食总产量达到六亿九千万吨，再创历史新高。",
            "孩子们在操场上踢足球，老师站在一旁耐心地指导他们。",
            "这座古老的寺庙已经有一千多年的历史，每年吸引大量游客前来参观。",
            "为了保护环境，政府鼓励市民乘坐公共交通工具出行。",
            "她从小就喜欢画画，长大后成为了一名优秀的插画师。",
            "会议决定把项目的截止日期推迟到下个月底。",
            "海水之所以是咸的，是因为河流把陆地上的盐分不断带入大海。",
            "经过三年的努力，研究团队终于完成了新型电池的测试工作。",
            "傍晚的时候，江边的灯光亮了起来，许多市民出来散步乘凉。",
            "请在周五之前把报告发到我的邮箱，谢谢！",
            "《红楼梦》是中国古典小说的巅峰之作，被翻译成了多种语言。");

    private static final List<String> CODE = List.of(
            """
            public static int binarySearch(int[] sorted, int key) {
                int low = 0, high = sorted.length - 1;
                while (low <= high) {
                    int mid = (low + high) >>> 1;
                    if (sorted[mid] < key) {
                        low = mid + 1;
                    } else if (sorted[mid] > key) {
                        high = mid - 1;
                    } else {
                        return mid;
                    }
                }
                return -(low + 1);
            }""",
            """
            def load_config(path: str) -> dict:
                \"\"\"Read a JSON config file and fill in defaults.\"\"\"
                with open(path, encoding="utf-8") as f:
                    config = json.load(f)
                config.setdefault("max_tokens", 2048)
                config.setdefault("temperature", 0.7)
                return config""",
            """
            for (Map.Entry<String, List<Order>> entry : ordersByCustomer.entrySet()) {
                double total = entry.getValue().stream().mapToDouble(Order::amount).sum();
                log.info("customer {} spent {}", entry.getKey(), String.format("%.2f", total));
            }""",
            """
            class LRUCache:
                def __init__(self, capacity):
                    self.capacity = capacity
                    self.items = OrderedDict()

                def get(self, key):
                    if key not in self.items:
                        return -1
                    self.items.move_to_end(key)
                    return self.items[key]""",
            """
            // Retry with exponential backoff, capped at 30 seconds.
            long delayMs = Math.min(30_000L, 100L * (1L << attempt));
            Thread.sleep(delayMs + random.nextInt(50));""",
            """
            SELECT c.name, COUNT(o.id) AS orders, SUM(o.total) AS revenue
            FROM customers c JOIN orders o ON o.customer_id = c.id
            WHERE o.created_at >= '2024-01-01'
            GROUP BY c.name ORDER BY revenue DESC LIMIT 10;""",
            """
            const fetchUser = async (id) => {
              const res = await fetch(`/api/users/${id}`, { headers: { Accept: 'application/json' } });
              if (!res.ok) throw new Error(`HTTP ${res.status}`);
              return res.json();
            };""",
            """
            #include <stdio.h>
            int main(int argc, char **argv) {
                for (int i = 1; i < argc; ++i) {
                    printf("%d: %s\\n", i, argv[i]);
                }
                return 0;
            }""");
}
