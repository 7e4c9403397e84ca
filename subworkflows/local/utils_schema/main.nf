/*
 * Parameter and samplesheet checks against nextflow_schema.json and assets/schema_input.json.
 *
 * Plain Groovy instead of the nf-schema plugin: plugins are downloaded at start-up, which offline
 * runs (NXF_OFFLINE=true) cannot do. Only the JSON-schema keywords our two schemas use are
 * understood: type, enum, pattern, minimum, maximum, required, format (file-path,
 * directory-path) with exists, and errorMessage. Every function returns the list of problems
 * (one line each) so that the caller can report them all at once before any task starts.
 */

def loadJsonSchema(schemaPath) {
    return new groovy.json.JsonSlurper().parse(new File(schemaPath.toString()))
}

// name -> definition over all parameter groups ($defs) of a nextflow_schema.json
def schemaParameters(Map schema) {
    def props = [:]
    (schema['$defs'] ?: schema['definitions'] ?: [:]).each { _groupName, group ->
        props.putAll(group.properties ?: [:])
    }
    props.putAll(schema.properties ?: [:])
    return props
}

def schemaRequiredParameters(Map schema) {
    def required = [] + (schema.required ?: [])
    (schema['$defs'] ?: schema['definitions'] ?: [:]).each { _groupName, group ->
        required += (group.required ?: [])
    }
    return required.unique()
}

// `--maxPerClass` and `--max-per-class` both reach params as extra keys; compare in snake case
def snakeCase(String name) {
    return name.replaceAll('-', '_').replaceAll(/([a-z0-9])([A-Z])/, '$1_$2').toLowerCase()
}

/*
 * Problems of one value against one schema property. `where` names the value for the user,
 * e.g. "--length" or "samplesheet.csv line 3, column 'file'". `resolve` turns a path string into
 * a Nextflow Path (lets samplesheet paths be relative to a base folder).
 */
def checkSchemaValue(String where, value, Map spec, Closure resolve) {
    if (value == null || (value instanceof String && value.isEmpty())) {
        return []
    }
    def got = value instanceof CharSequence ? "'${value}'" : "${value}"
    def hint = spec.errorMessage ? " (${spec.errorMessage})" : ''
    def typeProblem = null
    if (spec.type == 'integer' && !(value instanceof Integer || value instanceof Long || value instanceof BigInteger)) {
        typeProblem = "must be an integer, got ${got}"
    } else if (spec.type == 'number' && !(value instanceof Number)) {
        typeProblem = "must be a number, got ${got}"
    } else if (spec.type == 'boolean' && !(value instanceof Boolean)) {
        typeProblem = "must be true or false, got ${got}"
    } else if (spec.type == 'string' && value instanceof Boolean) {
        // a bare `--input` (no value) arrives as boolean true
        typeProblem = "needs a value${hint}"
    }
    if (typeProblem) {
        return ["${where}: ${typeProblem}".toString()]
    }
    def problems = []
    if (spec['enum'] != null && !(spec['enum'].collect { allowed -> allowed.toString() }.contains(value.toString()))) {
        problems << "${where}: ${got} is not one of ${spec['enum'].join(', ')}".toString()
    }
    if (spec.pattern && spec.type == 'string' && !(value.toString() ==~ spec.pattern)) {
        problems << "${where}: ${got} is not valid${hint}".toString()
    }
    if (spec.minimum != null && value instanceof Number && value < spec.minimum) {
        problems << "${where}: must be at least ${spec.minimum}, got ${got}".toString()
    }
    if (spec.maximum != null && value instanceof Number && value > spec.maximum) {
        problems << "${where}: must be at most ${spec.maximum}, got ${got}".toString()
    }
    if (spec.exists && spec.format in ['file-path', 'directory-path', 'path'] && !problems) {
        def path = resolve.call(value)
        if (!path.exists()) {
            def looked = path.toString() == value.toString() ? '' : " (looked for ${path})"
            problems << "${where}: ${got} does not exist${looked}".toString()
        } else if (spec.format == 'file-path' && path.isDirectory()) {
            problems << "${where}: ${got} is a folder; give a file".toString()
        } else if (spec.format == 'directory-path' && !path.isDirectory()) {
            problems << "${where}: ${got} is a file; give a folder".toString()
        }
    }
    return problems
}

/*
 * Checks params against nextflow_schema.json. Returns [problems, warnings]; unknown parameters
 * are warnings (site configs may carry their own), everything else is a problem.
 */
def checkParametersAgainstSchema(Map parameters, schemaPath) {
    def schema = loadJsonSchema(schemaPath)
    def specs = schemaParameters(schema)
    def problems = []
    def warnings = []
    schemaRequiredParameters(schema).each { name ->
        def value = parameters[name]
        if (value == null || (value instanceof String && value.isEmpty())) {
            problems << "--${name}: required; ${specs[name]?.description ?: 'give a value'}".toString()
        }
    }
    parameters.each { key, value ->
        def name = snakeCase(key.toString())
        def spec = specs[name]
        if (spec == null) {
            if (name == key.toString()) {
                warnings << "--${key}: not a parameter of this pipeline (see --help); ignored".toString()
            }
            return
        }
        if (name != key.toString()) {
            return  // the camelCase/kebab-case twin of a checked parameter
        }
        problems += checkSchemaValue("--${name}", value, spec, { v -> file(v.toString()) })
    }
    return [problems, warnings]
}

/*
 * Reads a CSV/TSV samplesheet and checks it against assets/schema_input.json.
 * Returns [rows, problems]; each row is a map column -> value with `_line` (1-based line number)
 * and, for path columns, the resolved Nextflow Path under `_<column>_path`.
 */
def readSamplesheetAgainstSchema(samplesheet, schemaPath, relativeTo) {
    def schema = loadJsonSchema(schemaPath)
    def specs = schema.items.properties
    def required = schema.items.required ?: []
    def name = samplesheet.name
    def problems = []
    def rows = []
    def resolve = { v ->
        def s = v.toString()
        (s.startsWith('/') || s =~ /^[a-z][a-z0-9+.-]*:\/\//) ? file(s) : relativeTo.resolve(s)
    }
    if (!samplesheet.exists() || samplesheet.isDirectory()) {
        return [rows, ["--input: samplesheet ${samplesheet} not found; give a CSV with the columns ${specs.keySet().join(',')}".toString()]]
    }
    def separator = name.endsWith('.tsv') ? '\t' : ','
    def lines = samplesheet.readLines().withIndex().findAll { line, _i -> line.trim() && !line.startsWith('#') }
    if (!lines) {
        return [rows, ["${name}: empty samplesheet; the first line must be the header ${specs.keySet().join(',')}".toString()]]
    }
    def header = lines[0][0].split(separator, -1).collect { cell -> cell.trim() }
    def missing = required.findAll { column -> !(column in header) }
    if (missing) {
        return [rows, ["${name}: missing column(s) ${missing.join(', ')}; the header must be ${specs.keySet().join(',')} (separated by '${separator == '\t' ? '\\t' : ','}')".toString()]]
    }
    def unknown = header.findAll { column -> !(column in specs.keySet()) }
    if (unknown) {
        problems << "${name}: unknown column(s) ${unknown.join(', ')}; allowed: ${specs.keySet().join(',')}".toString()
    }
    if (lines.size() == 1) {
        problems << "${name}: no rows below the header".toString()
    }
    lines.drop(1).each { line, i ->
        def cells = line.split(separator, -1).collect { cell -> cell.trim() }
        def where = "${name} line ${i + 1}"
        if (cells.size() != header.size()) {
            problems << "${where}: ${cells.size()} fields, the header has ${header.size()}".toString()
            return
        }
        def row = [_line: i + 1]
        [header, cells].transpose().each { column, value -> row[column] = value }
        required.each { column ->
            if (!row[column]) {
                problems << "${where}: column '${column}' is empty; it is required".toString()
            }
        }
        specs.each { column, spec ->
            problems += checkSchemaValue("${where}, column '${column}'", row[column], spec, resolve)
            if (spec.format == 'file-path' && row[column]) {
                row["_${column}_path"] = resolve.call(row[column])
            }
        }
        rows << row
    }
    return [rows, problems]
}

// --help from the schema: one line per parameter, grouped as in the schema
def schemaHelp(schemaPath, String command, boolean showHidden) {
    def schema = loadJsonSchema(schemaPath)
    def text = new StringBuilder()
    text << "Usage:\n  ${command}\n"
    (schema['$defs'] ?: [:]).each { _groupName, group ->
        def shown = (group.properties ?: [:]).findAll { _n, spec -> showHidden || !spec.hidden }
        if (!shown) {
            return
        }
        text << "\n${group.title}\n"
        def width = shown.keySet().collect { n -> n.size() }.max() + 2
        shown.each { n, spec ->
            def type = spec['enum'] ? spec['enum'].join('|') : spec.type
            def dflt = spec.default != null ? " [default: ${spec.default}]" : ''
            text << "  --${n.padRight(width)} ${spec.description ?: ''} (${type})${dflt}\n"
        }
    }
    if (!showHidden) {
        text << "\nHidden options: --help_full. Documentation: docs/usage.md, docs/output.md\n"
    }
    return text.toString()
}
