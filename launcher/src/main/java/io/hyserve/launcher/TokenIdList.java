package io.hyserve.launcher;

import picocli.CommandLine;

/** Comma-separated token ids from the command line, e.g. {@code 1,2,3}. */
record TokenIdList(int[] ids) {

    /** Parses {@code 1,2,3} with an error that names the bad item. */
    static final class Converter implements CommandLine.ITypeConverter<TokenIdList> {
        @Override
        public TokenIdList convert(String value) {
            return new TokenIdList(parse(value));
        }
    }

    static int[] parse(String value) {
        String trimmed = value.strip();
        if (trimmed.isEmpty()) {
            return new int[0];
        }
        String[] parts = trimmed.split(",", -1);
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i].strip();
            try {
                ids[i] = Integer.parseInt(part);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException(
                        "'%s' is not a token id (expected comma-separated non-negative integers)".formatted(part));
            }
            if (ids[i] < 0) {
                throw new CommandLine.TypeConversionException("token id %d is negative".formatted(ids[i]));
            }
        }
        return ids;
    }
}
