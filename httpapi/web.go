package httpapi

// webRoutes are the pages served beside the API (the till page, the
// dashboard, printable code sheets).
func (s *Server) webRoutes() []route { return nil }
