# cobs_add_plugin(NAME src...): a loadable plugin, NAME.so in the plugin directory
# of the build tree and of the install tree. Plugins see only the public headers.
function(cobs_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE cobs)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${COBS_PLUGIN_OUTPUT_DIR}
    INSTALL_RPATH "$ORIGIN/../..")
  install(TARGETS ${name} LIBRARY DESTINATION ${COBS_PLUGIN_SUBDIR})
endfunction()
