# basalt_module(NAME DIR DEPS...) declares one module library.
#
# The dependency rule of docs/architecture.md is enforced here: a module is
# compiled with an include directory (build/layers/NAME) that holds links to
# its own folder and to the folders of the modules it may use, and nothing
# else. `#include "frontend/conn.h"` from a lower layer therefore fails to
# compile. Relative includes that climb out of a folder are refused by the
# `layers` test.
set(BASALT_LAYER_ROOT ${CMAKE_BINARY_DIR}/layers)

function(basalt_module name dir)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  if(NOT M_SOURCES)
    # A module folder without sources yet (while a module is being written).
    set(M_SOURCES ${PROJECT_SOURCE_DIR}/cmake/empty.c)
  endif()
  add_library(${name} STATIC ${M_SOURCES})
  set(visible ${dir})
  foreach(dep ${M_DEPS})
    get_target_property(dep_visible ${dep} BASALT_VISIBLE)
    list(APPEND visible ${dep_visible})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_target_properties(${name} PROPERTIES BASALT_VISIBLE "${visible}")
  set(layer ${BASALT_LAYER_ROOT}/${name})
  foreach(v ${visible})
    get_filename_component(parent ${layer}/${v} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    if(NOT EXISTS ${layer}/${v})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${v} ${layer}/${v} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(${name} PRIVATE ${layer})
  target_link_libraries(${name} PUBLIC ${M_DEPS} ${M_LIBS})
endfunction()
