package io.hyserve.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A CUDA library (cuBLAS, cuDNN) bound through java.lang.foreign, since JCuda's bindings link the CUDA 12 / cuDNN 8
 * sonames. Loaded from a given directory (a pip wheel's {@code nvidia/<lib>/lib}, say) or through the dynamic
 * loader's search path; it stays loaded for the life of the process.
 */
final class NativeLibrary {
    private final String soname;
    private final SymbolLookup symbols;

    private NativeLibrary(String soname, SymbolLookup symbols) {
        this.soname = soname;
        this.symbols = symbols;
    }

    /**
     * Opens {@code soname}. With a {@code directory}, the {@code companions} found there are loaded first: the
     * library opens them by soname, and the dynamic loader answers with the copy already loaded instead of
     * searching its path, where they may not be.
     *
     * @throws IllegalStateException naming the library and where it was looked for
     */
    static NativeLibrary open(Path directory, String soname, String... companions) {
        try {
            if (directory == null) {
                return new NativeLibrary(soname, SymbolLookup.libraryLookup(soname, Arena.global()));
            }
            for (String companion : companions) {
                Path file = directory.resolve(companion);
                if (Files.exists(file)) {
                    SymbolLookup.libraryLookup(file, Arena.global());
                }
            }
            return new NativeLibrary(soname, SymbolLookup.libraryLookup(directory.resolve(soname), Arena.global()));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("%s could not be loaded (%s): %s".formatted(soname,
                    directory == null ? "searched on the dynamic loader's path" : "looked for in " + directory,
                    e.getMessage()), e);
        }
    }

    /** A downcall to the library's function {@code name}. */
    MethodHandle function(String name, FunctionDescriptor descriptor) {
        MemorySegment address = symbols.find(name).orElseThrow(() -> new IllegalStateException(
                "%s has no function %s (an older version than this binding expects?)".formatted(soname, name)));
        return Linker.nativeLinker().downcallHandle(address, descriptor);
    }

    String soname() {
        return soname;
    }
}
