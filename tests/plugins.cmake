# Tests of the plugin ABI, the loader and the example plugin. Included from
# tests/CMakeLists.txt with include(plugins.cmake), after add_subdirectory(plugins)
# in the top-level file (the example plugin target comes from there).

if(NOT TARGET avfuse_example)
  message(FATAL_ERROR "tests/plugins.cmake needs the avfuse_example target: "
    "add_subdirectory(plugins) must come before add_subdirectory(tests)")
endif()
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(plugin_header_dir ${PROJECT_SOURCE_DIR}/plugins)

# Plugins that the loader must refuse, built like real ones (module, hidden
# visibility, the header alone) so that only their one defect differs; and `stall`,
# valid but blocking while a file exists, which wedges a daemon's pipeline on purpose
# (integration.daemon.ops: the watchdog).
foreach(name bad_abi no_symbol bad_name stall)
  add_library(test_plugin_${name} MODULE ${CMAKE_CURRENT_LIST_DIR}/plugins/${name}_plugin.c)
  target_include_directories(test_plugin_${name} PRIVATE ${plugin_header_dir})
  target_compile_options(test_plugin_${name} PRIVATE -fvisibility=hidden)
  set_target_properties(test_plugin_${name} PROPERTIES
    OUTPUT_NAME ${name}_plugin
    PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
endforeach()

# ABI layout: sizes, offsets, enum values.
add_executable(test_plugin_abi ${CMAKE_CURRENT_LIST_DIR}/unit/test_plugin_abi.c)
target_link_libraries(test_plugin_abi PRIVATE avfuse_core PkgConfig::CMOCKA)
add_test(NAME unit.plugin_abi COMMAND test_plugin_abi)
set_tests_properties(unit.plugin_abi PROPERTIES LABELS unit TIMEOUT 60)

# The loader, on the shared objects built above; the test copies them into
# folders of its own.
add_executable(test_loader ${CMAKE_CURRENT_LIST_DIR}/unit/test_loader.c)
target_link_libraries(test_loader PRIVATE avfuse_core PkgConfig::CMOCKA ${CMAKE_DL_LIBS})
add_dependencies(test_loader avfuse_example test_plugin_bad_abi test_plugin_no_symbol
  test_plugin_bad_name)
add_test(NAME unit.loader COMMAND test_loader)
set_tests_properties(unit.loader PROPERTIES
  LABELS unit TIMEOUT 60
  ENVIRONMENT "AVFUSE_EXAMPLE_PLUGIN=$<TARGET_FILE:avfuse_example>;AVFUSE_BAD_ABI_PLUGIN=$<TARGET_FILE:test_plugin_bad_abi>;AVFUSE_NO_SYMBOL_PLUGIN=$<TARGET_FILE:test_plugin_no_symbol>;AVFUSE_BAD_NAME_PLUGIN=$<TARGET_FILE:test_plugin_bad_name>")

# The header compiles alone, with every warning an error, in the standards a
# plugin author may use. Object libraries: compiled by every
# build, never linked, so a header that stops compiling alone breaks the build.
set(header_alone_warnings -Wall -Wextra -Wpedantic -Werror)
foreach(std 99 17)
  add_library(header_alone_c${std} OBJECT ${CMAKE_CURRENT_LIST_DIR}/abi/header_alone.c)
  target_include_directories(header_alone_c${std} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(header_alone_c${std} PRIVATE ${header_alone_warnings})
  set_target_properties(header_alone_c${std} PROPERTIES
    C_STANDARD ${std} C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
endforeach()

include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER)
  enable_language(CXX)
  foreach(std 11 17)
    add_library(header_alone_cxx${std} OBJECT ${CMAKE_CURRENT_LIST_DIR}/abi/header_alone.cpp)
    target_include_directories(header_alone_cxx${std} PRIVATE ${PROJECT_SOURCE_DIR})
    # The project's C-only warning flags would only make g++ say they are C-only.
    get_target_property(cxx_options header_alone_cxx${std} COMPILE_OPTIONS)
    if(cxx_options)
      list(REMOVE_ITEM cxx_options -Wstrict-prototypes -Wmissing-prototypes)
      set_property(TARGET header_alone_cxx${std} PROPERTY COMPILE_OPTIONS ${cxx_options})
    endif()
    target_compile_options(header_alone_cxx${std} PRIVATE ${header_alone_warnings})
    set_target_properties(header_alone_cxx${std} PROPERTIES
      CXX_STANDARD ${std} CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  endforeach()
else()
  message(WARNING "No C++ compiler: the check that plugins/avfuse_plugin.h compiles "
    "alone as C++ is skipped (install g++ to run it)")
endif()

# `avfuse analyze --plugin-dir` end to end: fails until plugins are wired into the
# pipeline.
add_test(NAME integration.plugins
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/integration/test_plugins.py -v)
set_tests_properties(integration.plugins PROPERTIES
  LABELS integration TIMEOUT 600
  ENVIRONMENT "AVFUSE_BIN=$<TARGET_FILE:avfuse>;AVFUSE_EXAMPLE_PLUGIN_DIR=$<TARGET_FILE_DIR:avfuse_example>;AVFUSE_BAD_PLUGIN=$<TARGET_FILE:test_plugin_bad_abi>")
