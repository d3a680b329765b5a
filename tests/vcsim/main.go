// Copyright: esxi.customizer contributors
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

// Command vcsim runs one govmomi vSphere simulator (a standalone ESXi host or a vCenter) on a
// fixed loopback address with TLS on a freshly generated self-signed certificate, for the
// datastore_upload integration tests and benchmark.
//
// It writes a JSON state file naming the URL, the credentials, the certificate (usable as a CA
// bundle) and the local directory behind every datastore, so tests can compare uploaded bytes on
// disk. The simulator's models live in a package-global registry, so each variant runs in its own
// process.
//
// Two things are made stricter than govmomi 0.24's /folder handler, to behave like real hosts:
// /folder requests need HTTP Basic credentials (hostd answers 401 without them), and a PUT whose
// parent directory does not exist answers 500 (what hostd and later vcsim releases do, see
// vmware/govmomi#1332) instead of silently creating the directory, so the tests prove that
// missing folders are created through FileManager.MakeDirectory.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

type state struct {
	Mode       string            `json:"mode"`
	URL        string            `json:"url"`
	Hostname   string            `json:"hostname"`
	Port       int               `json:"port"`
	Username   string            `json:"username"`
	Password   string            `json:"password"`
	CA         string            `json:"ca"`
	Datacenter string            `json:"datacenter"`
	Datastores map[string]string `json:"datastores"`
	Pid        int               `json:"pid"`
}

// selfSigned returns a certificate for 127.0.0.1/localhost and writes it as PEM to caPath.
func selfSigned(caPath string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"esxi.customizer vcsim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(caPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// realistic wraps the simulator's handler with hostd's Basic-auth and missing-folder behaviour.
func realistic(next http.Handler, user, pass string, datastores map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/folder") {
			next.ServeHTTP(w, r)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPut {
			if dir, known := datastores[r.URL.Query().Get("dsName")]; known {
				rel := strings.TrimPrefix(r.URL.Path, "/folder/")
				parent := path.Dir(path.Join(dir, rel))
				if st, err := os.Stat(parent); err != nil || !st.IsDir() {
					log.Printf("PUT %s: parent folder does not exist", r.URL.Path)
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func main() {
	mode := flag.String("mode", "esx", "esx (standalone host) or vpx (vCenter)")
	listen := flag.String("listen", "127.0.0.1:18443", "address to listen on")
	user := flag.String("username", "root", "user name accepted by Login and /folder")
	pass := flag.String("password", "vcsim-pass", "password accepted by Login and /folder")
	stateFile := flag.String("state", "", "write a JSON description of the running simulator here")
	caFile := flag.String("ca", "", "write the server certificate (PEM) here")
	flag.Parse()

	var model *simulator.Model
	switch *mode {
	case "esx":
		model = simulator.ESX()
	case "vpx":
		model = simulator.VPX()
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	model.Machine = 0 // VMs are not needed and only slow down start-up
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	cert, err := selfSigned(*caFile)
	if err != nil {
		log.Fatal(err)
	}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	server := model.Service.NewServer()
	defer server.Close()

	st := state{Mode: *mode, Username: *user, Password: *pass, CA: *caFile, Datastores: map[string]string{}, Pid: os.Getpid()}
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		st.Datastores[ds.Name] = ds.Info.GetDatastoreInfo().Url
	}
	if dc, ok := simulator.Map.Any("Datacenter").(*simulator.Datacenter); ok {
		st.Datacenter = dc.Name
	}
	// No request has been served yet, so swapping the handler here does not race with the server.
	server.Config.Handler = realistic(server.Config.Handler, *user, *pass, st.Datastores)

	addr := server.Listener.Addr().(*net.TCPAddr)
	st.Hostname = addr.IP.String()
	st.Port = addr.Port
	st.URL = "https://" + addr.String()
	if *stateFile != "" {
		data, _ := json.MarshalIndent(st, "", "  ")
		tmp := *stateFile + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *stateFile); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("vcsim %s listening on %s", *mode, st.URL)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
