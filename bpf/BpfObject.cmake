# SPDX-License-Identifier: Apache-2.0
# bpf_object(NAME SOURCE [SKELETON SKEL_NAME] [CFLAGS flag...] [INCLUDES dir...] [DEPENDS file...])
#
# Compiles SOURCE with clang for the BPF target and generates SKEL_NAME.skel.h (SKEL_NAME defaults
# to NAME) with bpftool, in a directory of its own. Yields the INTERFACE target NAME_skel: link it
# to get the skeleton's include directory and libbpf. Two objects may share a SKEL_NAME (the same
# program built with different CFLAGS); each target then sees its own header.
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(MODGATE_BPF_CFLAGS -target bpf -O2 -g -mcpu=v3 -Wall -Werror -D__TARGET_ARCH_x86
    CACHE STRING "Flags for BPF objects")

function(bpf_object name source)
  cmake_parse_arguments(ARG "" "SKELETON" "CFLAGS;INCLUDES;DEPENDS" ${ARGN})
  if(NOT ARG_SKELETON)
    set(ARG_SKELETON ${name})
  endif()
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel)
  set(obj ${dir}/${ARG_SKELETON}.bpf.o)
  set(skel ${dir}/${ARG_SKELETON}.skel.h)
  set(incs -I${MODGATE_BPF_DIR}/include -I${MODGATE_BPF_DIR})
  foreach(inc ${ARG_INCLUDES})
    list(APPEND incs -I${inc})
  endforeach()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${BPF_CLANG} ${MODGATE_BPF_CFLAGS} ${ARG_CFLAGS} ${incs} -c ${source} -o ${obj}
    DEPENDS ${source} ${ARG_DEPENDS} ${MODGATE_BPF_HEADERS}
    COMMENT "BPF ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${ARG_SKELETON} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${ARG_SKELETON}.skel.h (${name})"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  # SYSTEM: the skeleton is bpftool's generated C, not ours; it is not held to our warnings (clang
  # -Woverlength-strings on the embedded object) or to clang-tidy (scripts/lint).
  target_include_directories(${name}_skel SYSTEM INTERFACE ${dir})
  target_include_directories(${name}_skel INTERFACE ${MODGATE_BPF_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  set_property(TARGET ${name}_skel PROPERTY MODGATE_BPF_OBJECT ${obj})
endfunction()
