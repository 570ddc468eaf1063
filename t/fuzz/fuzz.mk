# Builds the libFuzzer harnesses of t/fuzz/ with ASan+UBSan (see
# docs/testing.md, "Fuzzing").  Run through t/fuzz/build.sh (or t/fuzz/run,
# t/fuzz/replay), which passes ROOT, OUT and the dependency flags:
#     make -f t/fuzz/fuzz.mk ROOT=. OUT=t/fuzz/build DEPS_CFLAGS=... DEPS_LIBS=...
# The sources of lib/ are compiled here, instrumented, into OUT/libpoolfuzz.a
# (nothing of the autotools build is used, so that it needs no configure
# run and httpd's headers are never involved).

CC        ?= clang
SAN       := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
CFLAGS_F  := -g -O1 $(SAN) -std=gnu11 -I$(ROOT) -I$(ROOT)/lib -I$(ROOT)/t/fuzz $(DEPS_CFLAGS)
WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare

LIB_SRCS  := $(sort $(wildcard $(ROOT)/lib/*.c))
LIB_OBJS  := $(patsubst $(ROOT)/lib/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
HARNESSES := $(patsubst $(ROOT)/t/fuzz/%.c,%,$(sort $(wildcard $(ROOT)/t/fuzz/fuzz_*.c)))
BINS      := $(addprefix $(OUT)/,$(HARNESSES))

all: $(BINS)

$(OUT)/lib/%.o: $(ROOT)/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_F) -MMD -MP -c -o $@ $<

$(OUT)/libpoolfuzz.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(OUT)/%.o: $(ROOT)/t/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_F) $(WARN) -MMD -MP -c -o $@ $<

$(OUT)/fuzz_%: $(OUT)/fuzz_%.o $(OUT)/libpoolfuzz.a
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(OUT)/libpoolfuzz.a $(DEPS_LIBS)

.PHONY: all list
list:
	@echo $(HARNESSES)

-include $(LIB_OBJS:.o=.d) $(addprefix $(OUT)/,$(addsuffix .d,$(HARNESSES)))
