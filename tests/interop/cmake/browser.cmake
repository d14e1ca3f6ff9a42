# The browser interop tests (browser_test.cc): headless Chromium from Debian (`chromium`), driven by
# tests/interop/browser/driver.js through playwright-core from npm. `npm ci` installs the locked playwright-core into
# the build dir (npm_ci.cmake; playwright downloads no browser, it runs /usr/bin/chromium). Without node, npm or
# chromium the tests skip, except under CI=true, where they fail.
include(${CMAKE_CURRENT_LIST_DIR}/npm_ci.cmake)
find_program(TETHER_CHROMIUM NAMES chromium chromium-browser)
set(browser_build_dir ${CMAKE_CURRENT_BINARY_DIR}/browser)
if(TETHER_NODE AND TETHER_NPM)
  # driver.js goes next to its node_modules, so that require('playwright-core') resolves.
  tether_npm_ci(tether_browser_driver
    SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/browser
    BUILD_DIR ${browser_build_dir}
    FILES driver.js
    COMMENT "npm ci tests/interop/browser (playwright-core)")
else()
  message(STATUS "node/npm not found: the browser interop tests will skip (and fail under CI=true)")
  set(TETHER_NODE node)
endif()
if(NOT TETHER_CHROMIUM)
  message(STATUS "chromium not found (deploy/setup.sh installs it): the browser interop tests will skip (and fail under CI=true)")
  set(TETHER_CHROMIUM /usr/bin/chromium)
endif()
target_compile_definitions(tether_interop_tests PRIVATE
  TETHER_NODE="${TETHER_NODE}"
  TETHER_CHROMIUM="${TETHER_CHROMIUM}"
  TETHER_BROWSER_DRIVER="${browser_build_dir}/driver.js")
