# The npm side of the interop tests that run node (browser.cmake, node_example.cmake): node and npm, and one rule that
# installs a package's locked dependencies into the build dir (node_modules never lands in the source tree, and each
# preset has its own).
include_guard(GLOBAL)
find_program(TETHER_NODE node)
find_program(TETHER_NPM npm)

# tether_npm_ci(<target> SOURCE_DIR <dir> BUILD_DIR <dir> [FILES <path>...] COMMENT <text>)
# Copies SOURCE_DIR's package.json and package-lock.json into BUILD_DIR and runs `npm ci` there (again only when one of
# the two changes), and copies each of FILES (relative to SOURCE_DIR; a change copies it again, without `npm ci`)
# next to the node_modules they require. <target> builds all of it and tether_interop_tests depends on it. Needs
# TETHER_NPM (the caller checks).
function(tether_npm_ci target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SOURCE_DIR;BUILD_DIR;COMMENT" "FILES")
  set(stamp ${arg_BUILD_DIR}/node_modules/.tether-npm-ci)
  set(lock_files ${arg_SOURCE_DIR}/package.json ${arg_SOURCE_DIR}/package-lock.json)
  file(MAKE_DIRECTORY ${arg_BUILD_DIR})  # the working directory of `npm ci`
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -E copy ${lock_files} ${arg_BUILD_DIR}
    COMMAND ${TETHER_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    WORKING_DIRECTORY ${arg_BUILD_DIR}
    DEPENDS ${lock_files}
    COMMENT "${arg_COMMENT}"
    VERBATIM)
  set(copies)
  foreach(file IN LISTS arg_FILES)
    get_filename_component(to_dir ${arg_BUILD_DIR}/${file} DIRECTORY)
    add_custom_command(
      OUTPUT ${arg_BUILD_DIR}/${file}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${to_dir}
      COMMAND ${CMAKE_COMMAND} -E copy ${arg_SOURCE_DIR}/${file} ${arg_BUILD_DIR}/${file}
      DEPENDS ${arg_SOURCE_DIR}/${file}
      VERBATIM)
    list(APPEND copies ${arg_BUILD_DIR}/${file})
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${stamp} ${copies})
  add_dependencies(tether_interop_tests ${target})
endfunction()
