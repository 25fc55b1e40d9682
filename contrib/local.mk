# contrib/: nginx site, systemd unit and sysusers entry, example configuration.
#
# make install puts
#   the unit        into systemd's system unit directory: systemd.pc's systemdsystemunitdir
#                   taken below $(prefix) (so /usr/lib/systemd/system for --prefix=/usr),
#                   else $(prefix)/lib/systemd/system; `make systemdsystemunitdir=DIR` wins;
#                   its paths are rewritten to $(bindir) and $(sysconfdir)
#   the sysusers    entry into systemd.pc's sysusersdir likewise (certgate.conf)
#   the example     configuration into $(sysconfdir)/certgate/certgate.json.example
#   the nginx site  into $(docdir)/examples/nginx/certgate.conf
# and make uninstall removes all of it.

certgateconfdir = $(sysconfdir)/certgate
dist_certgateconf_DATA = contrib/certgate.json.example

nginxexampledir = $(docdir)/examples/nginx
dist_nginxexample_DATA = contrib/nginx/certgate.conf

EXTRA_DIST += contrib/local.mk contrib/systemd/certgate.service \
	contrib/systemd/certgate.sysusers

systemdsystemunitdir =
sysusersdir =

# Shell snippets that set $d to the directory (make variable, else systemd.pc, else default).
contrib_pc = $(PKG_CONFIG) --define-variable=prefix='$(prefix)' \
	--define-variable=rootprefix='$(prefix)' --define-variable=root_prefix='$(prefix)'
contrib_unitdir = d='$(systemdsystemunitdir)'; \
	test -n "$$d" || d=`$(contrib_pc) --variable=systemdsystemunitdir systemd 2>/dev/null`; \
	test -n "$$d" || d='$(prefix)/lib/systemd/system'
contrib_sysusersdir = d='$(sysusersdir)'; \
	test -n "$$d" || d=`$(contrib_pc) --variable=sysusersdir systemd 2>/dev/null`; \
	test -n "$$d" || d='$(prefix)/lib/sysusers.d'

install-data-local: contrib-install-systemd
uninstall-local: contrib-uninstall-systemd

contrib-install-systemd:
	@$(contrib_unitdir); \
	echo " $(MKDIR_P) '$(DESTDIR)'$$d"; \
	$(MKDIR_P) "$(DESTDIR)$$d" || exit 1; \
	echo " install certgate.service '$(DESTDIR)'$$d"; \
	sed -e 's|/usr/bin/certgate|$(bindir)/certgate|g' \
	    -e 's|/etc/certgate/|$(sysconfdir)/certgate/|g' \
	    '$(srcdir)/contrib/systemd/certgate.service' >"$(DESTDIR)$$d/certgate.service" && \
	chmod 644 "$(DESTDIR)$$d/certgate.service" || exit 1; \
	$(contrib_sysusersdir); \
	echo " install certgate.sysusers '$(DESTDIR)'$$d/certgate.conf"; \
	$(MKDIR_P) "$(DESTDIR)$$d" && \
	$(INSTALL_DATA) '$(srcdir)/contrib/systemd/certgate.sysusers' "$(DESTDIR)$$d/certgate.conf"

contrib-uninstall-systemd:
	@$(contrib_unitdir); \
	echo " rm -f '$(DESTDIR)'$$d/certgate.service"; \
	rm -f "$(DESTDIR)$$d/certgate.service"; \
	$(contrib_sysusersdir); \
	echo " rm -f '$(DESTDIR)'$$d/certgate.conf"; \
	rm -f "$(DESTDIR)$$d/certgate.conf"

.PHONY: contrib-install-systemd contrib-uninstall-systemd
