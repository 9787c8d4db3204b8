// What a program that imports Kiln needs to describe a build and read its result.
@_exported import Images
@_exported import OCI
@_exported import Plan
