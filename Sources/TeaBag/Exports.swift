/// `import TeaBag` is all a program needs: the types of the library's API
/// that live in the core (`JSON`, `Op`, `Reducer`) and in the plugin host
/// (`PluginHost`) come with it.
@_exported import TeaBagCore
@_exported import TeaBagPlugins
