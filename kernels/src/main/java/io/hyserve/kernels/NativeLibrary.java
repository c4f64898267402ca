package io.hyserve.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
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
     * Opens {@code soname}. The libraries bound here find what they open themselves (cuDNN's sublibraries) beside
     * their own file, so a directory needs nothing else on the loader's path.
     *
     * @throws IllegalStateException naming the library and where it was looked for
     */
    static NativeLibrary open(Path directory, String soname) {
        try {
            SymbolLookup symbols = directory == null ? SymbolLookup.libraryLookup(soname, Arena.global())
                    : SymbolLookup.libraryLookup(directory.resolve(soname), Arena.global());
            return new NativeLibrary(soname, symbols);
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
}
