import { lazy, StrictMode, Suspense } from "react";
import { createRoot } from "react-dom/client";
import { Audience } from "./Audience";
import "./styles.css";

// The presenter screen (and its QR encoder) is a separate chunk: phones never download it.
const Screen = lazy(() => import("./screen/Screen"));

const isScreen = /^\/screen\/?$/.test(window.location.pathname);
document.documentElement.classList.toggle("presenter", isScreen);

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    {isScreen ? (
      <Suspense fallback={<p className="loading">Loading the presenter screen…</p>}>
        <Screen />
      </Suspense>
    ) : (
      <Audience />
    )}
  </StrictMode>,
);
