package io.hyserve.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A CUDA library (cuBLAS, cuDNN) bound through java.lang.foreign, since JCuda's bindings link the CUDA 12 / cuDNN 8
 * sonames. Loaded from the first folder of a search path that has it (a pip wheel's {@code nvidia/cu13/lib}, say),
 * else through the dynamic loader's own search; it stays loaded for the life of the process.
 */
final class NativeLibrary {
    private final String soname;
    private final SymbolLookup symbols;

    private NativeLibrary(String soname, SymbolLookup symbols) {
        this.soname = soname;
        this.symbols = symbols;
    }

    /**
     * Opens {@code soname} from the first folder of {@code searchPath} that holds it, else through the dynamic
     * loader. A library found this way also answers a later open of its soname from native code (cuDNN opening
     * cuBLASLt), and cuDNN finds its own sublibraries beside its file.
     *
     * @throws IllegalStateException naming the library and where it was looked for
     */
    static NativeLibrary open(List<Path> searchPath, String soname) {
        Path file = searchPath.stream().map(folder -> folder.resolve(soname)).filter(Files::exists).findFirst()
                .orElse(null);
        try {
            SymbolLookup symbols = file == null ? SymbolLookup.libraryLookup(soname, Arena.global())
                    : SymbolLookup.libraryLookup(file, Arena.global());
            return new NativeLibrary(soname, symbols);
        } catch (IllegalArgumentException e) {
            String where = file != null ? "from " + file : (searchPath.isEmpty() ? "" : "not in " + searchPath + "; ")
                    + "searched on the dynamic loader's path";
            throw new IllegalStateException("%s could not be loaded (%s): %s".formatted(soname, where,
                    e.getMessage()), e);
        }
    }

    /** A downcall returning a status (0 on success), as cuBLAS and cuDNN functions do. */
    interface Call {
        int invoke() throws Throwable;
    }

    /** A downcall that writes what it creates (a handle, a descriptor) through its pointer argument. */
    interface Create {
        int invoke(MemorySegment out) throws Throwable;
    }

    /**
     * The status {@code call} returns; a downcall that cannot be made at all (a wrong signature) is an
     * IllegalStateException naming {@code function}.
     */
    static int status(String function, Call call) {
        try {
            return call.invoke();
        } catch (Throwable e) {
            throw new IllegalStateException(function + " could not be called", e);
        }
    }

    /** The handle {@code create} wrote, once {@code check} accepted its status. */
    static MemorySegment created(String function, Create create, java.util.function.ObjIntConsumer<String> check) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check.accept(function, status(function, () -> create.invoke(out)));
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** A downcall to the library's function {@code name}. */
    MethodHandle function(String name, FunctionDescriptor descriptor) {
        MemorySegment address = symbols.find(name).orElseThrow(() -> new IllegalStateException(
                "%s has no function %s (an older version than this binding expects?)".formatted(soname, name)));
        return Linker.nativeLinker().downcallHandle(address, descriptor);
    }
}
