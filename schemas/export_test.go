package schemas

// LoadAsWritten compiles the schemas as their files are written, every `$ref` kept:
// the reference the inlined registry must agree with.
func LoadAsWritten() (*Registry, error) { return load(false) }

// Inline inlines doc, the document whose $id is base, among docs.
func Inline(docs map[string]any, doc any, base string) any {
	return inliner{docs: docs}.inline(doc, base)
}

// CompiledDocs returns the documents the registry's compiler is given, by $id.
func CompiledDocs(inlined bool) (map[string]any, error) {
	_, docs, err := compiledDocs(inlined)
	return docs, err
}
