# bpf_object(NAME SOURCE [INCLUDES dir...] [DEPENDS file...])
#
# Compiles SOURCE with clang for the BPF target and generates NAME.skel.h with bpftool. Yields the
# INTERFACE target NAME_skel: link it to get the skeleton's include directory and libbpf.
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(MODGATE_BPF_CFLAGS -target bpf -O2 -g -mcpu=v3 -Wall -Werror -D__TARGET_ARCH_x86
    CACHE STRING "Flags for BPF objects")

function(bpf_object name source)
  cmake_parse_arguments(ARG "" "" "INCLUDES;DEPENDS" ${ARGN})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  set(incs -I${MODGATE_BPF_DIR}/include -I${MODGATE_BPF_DIR})
  foreach(dir ${ARG_INCLUDES})
    list(APPEND incs -I${dir})
  endforeach()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} ${MODGATE_BPF_CFLAGS} ${incs} -c ${source} -o ${obj}
    DEPENDS ${source} ${ARG_DEPENDS} ${MODGATE_BPF_HEADERS}
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR} ${MODGATE_BPF_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
